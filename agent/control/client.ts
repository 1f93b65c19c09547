// Talks to a running agent over its control socket.
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { VigilError } from '../../kernel/errors.js';
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
