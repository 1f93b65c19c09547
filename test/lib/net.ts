// Loopback helpers for tests of network enforcement.
import { connect } from 'node:net';

/** Connects to host:port; resolves 'connected', or the error code (EPERM when the kernel denies it). */
export function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
