// Talks to a running agent over its control socket.
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { ERROR_CODES, VigilError, type ErrorCode } from '../../kernel/errors.js';
import type { Request } from './protocol.js';

/** Sends one request; calls onLine for each line of the answer until the agent closes. */
export function request(path: string, req: Request, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    sock.once('error', (err: NodeJS.ErrnoException) => {
      reject(new VigilError('VIGIL_AGENT_UNREACHABLE', `cannot reach the agent at ${path}: ${err.code ?? err.message}`, {
        hint: err.code === 'EACCES' ? 'the socket is root-only: run as root' : 'start it with: vigil run',
      }));
    });
    sock.once('connect', () => {
      sock.write(`${JSON.stringify(req)}\n`);
      createInterface({ input: sock }).on('line', onLine);
    });
    sock.once('close', () => resolve());
  });
}

/** One request, one answer; an answer that is an error becomes a VigilError with the agent's code. */
export async function ask(path: string, req: Request): Promise<unknown> {
  let line = '';
  await request(path, req, (l) => (line = l));
  let answer: unknown;
  try {
    answer = JSON.parse(line);
  } catch {
    throw new VigilError('VIGIL_AGENT_UNREACHABLE', `the agent at ${path} closed the connection without an answer`);
  }
  if (answer && typeof answer === 'object' && 'error' in answer) {
    const { error, code } = answer as { error: unknown; code?: string };
    throw new VigilError(code && code in ERROR_CODES ? (code as ErrorCode) : 'VIGIL_USAGE', String(error));
  }
  return answer;
}
