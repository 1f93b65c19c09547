// Loopback helpers for tests of network enforcement.
import { connect, createServer, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';

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

/** A TCP connection's ends as one side's socket sees them: its own address and port first. */
export interface Tuple {
  family: 4 | 6;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

/** A listening server on host:port (0: any free port); accepted sockets' tuples are kept. */
export async function listen(host: string, port = 0): Promise<{ server: Server; port: number; accepted: Tuple[] }> {
  const accepted: Tuple[] = [];
  const server = createServer((c) => {
    accepted.push(tupleOf(c));
    c.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port, accepted };
}

const plain = (a: string | undefined): string => (a ?? '').replace(/^::ffff:/, '');

function tupleOf(s: Socket): Tuple {
  return { family: isIPv6(plain(s.localAddress)) ? 6 : 4, saddr: plain(s.localAddress), daddr: plain(s.remoteAddress), sport: s.localPort!, dport: s.remotePort! };
}

/** Connects, then closes: the client's tuple, or the error code (ECONNREFUSED, EPERM). */
export function connectTuple(host: string, port: number): Promise<Tuple | string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      const t = tupleOf(s);
      s.end();
      s.once('close', () => resolve(t));
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
