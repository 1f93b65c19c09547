// Serves the control socket: one-shot requests to the handlers, and
// `events` connections handed to the stream exporter.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Handlers, Request } from './protocol.js';

export class ControlServer {
  private server?: Server;
  private readonly counts = { clients: 0 };

  get stats(): { clients: number } {
    return { ...this.counts };
  }

  constructor(private readonly path: string, private readonly handlers: Handlers, private readonly subscribe: (socket: Socket) => void) {}

  listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    rmSync(this.path, { force: true });
    this.server = createServer((s) => this.accept(s));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.path, () => {
        chmodSync(this.path, 0o600);
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    this.counts.clients++;
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      if (buf === undefined) return;
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      this.handle(socket, line);
    });
  }

  private handle(socket: Socket, line: string): void {
    let req: Request;
    try {
      req = JSON.parse(line);
    } catch {
      socket.end(`${JSON.stringify({ error: 'request is not JSON' })}\n`);
      return;
    }
    if (req.op === 'events') {
      this.subscribe(socket);
      return;
    }
    const handler = this.handlers[req.op] as ((r: Request) => unknown) | undefined;
    if (!handler) {
      socket.end(`${JSON.stringify({ error: `unknown op ${(req as { op: unknown }).op}` })}\n`);
      return;
    }
    let answer: unknown;
    try {
      answer = handler(req);
    } catch (err) {
      answer = { error: (err as Error).message };
    }
    socket.end(`${JSON.stringify(answer)}\n`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.path, { force: true });
  }
}
