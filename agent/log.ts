// The agent's own logs: pino, JSON lines on stderr.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.VIGIL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'vigil', level }, pino.destination({ fd: 2, sync: true }));
}
