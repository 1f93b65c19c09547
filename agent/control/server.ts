// Serves the control socket: one request line per connection, answered by
// the handlers, or `events`, handed to the stream exporter. The socket is
// created root-only from the start (a private directory, umask 077 while it
// binds), and every connection's peer is checked with SO_PEERCRED. Requests
// are bounded, parsed once, and never reach Object.prototype.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Handlers, Request } from './protocol.js';
import { peerCredentials } from '../../kernel/peer.js';
import { VigilError } from '../../kernel/errors.js';

/** A request line longer than this is refused: requests are a few hundred bytes. */
export const MAX_REQUEST_BYTES = 64 << 10;
/** A connection that has not sent its request line by then is dropped. */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface ControlStats {
  clients: number;
  /** Peers that were not root (or the agent's own user). */
  refused_peers: number;
  /** Lines that were not a request: not JSON, too long, an unknown op. */
  bad_requests: number;
}

export class ControlServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly counts: ControlStats = { clients: 0, refused_peers: 0, bad_requests: 0 };

  get stats(): ControlStats {
    return { ...this.counts };
  }

  constructor(private readonly path: string, private readonly handlers: Handlers, private readonly subscribe: (socket: Socket) => void) {}

  listen(): Promise<void> {
    const dir = dirname(this.path);
    // A directory Vigil makes is private (0700); one that exists must be this user's, or another user could swap the socket.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.getuid?.()) {
      throw new VigilError('VIGIL_USAGE', `the control socket's directory ${dir} is not a directory this user owns`, { hint: 'choose another --socket path' });
    }
    rmSync(this.path, { force: true });
    this.server = createServer((s) => this.accept(s));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      // The socket file is made while umask 077 holds, so it is never reachable by others.
      const umask = process.umask(0o177);
      try {
        this.server!.listen(this.path, () => {
          chmodSync(this.path, 0o600);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
  }

  private accept(socket: Socket): void {
    this.counts.clients++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (!this.trusted(socket)) {
      this.counts.refused_peers++;
      socket.end(`${JSON.stringify({ error: 'the control socket answers root only' })}\n`);
      return;
    }
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => {
      this.counts.bad_requests++;
      socket.destroy();
    });
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_REQUEST_BYTES) this.refuse(socket, onData, `a request is one line of at most ${MAX_REQUEST_BYTES} bytes`);
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      socket.off('data', onData);
      socket.setTimeout(0);
      if (size + nl > MAX_REQUEST_BYTES) return this.refuse(socket, onData, `a request is one line of at most ${MAX_REQUEST_BYTES} bytes`);
      void this.handle(socket, Buffer.concat(chunks).toString('utf8'));
    };
    socket.on('data', onData);
  }

  /** Root, or the user the agent runs as; anything unreadable is refused. */
  private trusted(socket: Socket): boolean {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return false;
    try {
      const { uid } = peerCredentials(fd);
      return uid === 0 || uid === process.getuid?.();
    } catch {
      return false;
    }
  }

  /** Answers with the error and drops the connection: a client still sending is not read any further. */
  private refuse(socket: Socket, onData: (b: Buffer) => void, error: string): void {
    this.counts.bad_requests++;
    socket.off('data', onData);
    socket.end(`${JSON.stringify({ error })}\n`, () => socket.destroy());
  }

  private async handle(socket: Socket, line: string): Promise<void> {
    const req = parseRequest(line, this.handlers);
    if (typeof req === 'string') {
      this.counts.bad_requests++;
      socket.end(`${JSON.stringify({ error: req })}\n`);
      return;
    }
    if (req.op === 'events') {
      this.subscribe(socket);
      return;
    }
    let answer: unknown;
    try {
      answer = await (this.handlers[req.op] as (r: Request) => unknown)(req);
    } catch (err) {
      answer = { error: (err as Error).message, ...(err instanceof VigilError ? { code: err.code } : {}) };
    }
    if (!socket.destroyed) socket.end(`${JSON.stringify(answer)}\n`);
  }

  /** Stops listening and ends every connection, live tails included. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.end();
    setTimeout(() => { for (const s of this.sockets) s.destroy(); }, 1000).unref();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.path, { force: true });
  }
}

/** The request a line holds, or why it is none. Only the handlers' own ops and `events` are requests. */
export function parseRequest(line: string, handlers: Handlers): Request | string {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return 'request is not JSON';
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) return 'a request is a JSON object';
  const op = (req as { op?: unknown }).op;
  if (typeof op !== 'string') return 'a request has a string "op"';
  if (op !== 'events' && !Object.hasOwn(handlers, op)) return `unknown op ${JSON.stringify(op.slice(0, 64))}`;
  return req as Request;
}
