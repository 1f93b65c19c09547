// Serves status and the live event stream on the control socket.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Handlers, Request, StreamNotice } from './protocol.js';
import type { TetragonEvent } from '../events/tetragon.js';
import { eventJson } from '../../exporters/json.js';

/** A subscriber further behind than this many bytes misses events (and is told how many). */
const MAX_BACKLOG = 16 << 20;

interface Subscriber {
  socket: Socket;
  dropped: number;
}

export class ControlServer {
  private server?: Server;
  private readonly subscribers = new Set<Subscriber>();
  private readonly counts = { clients: 0, droppedForSlowClients: 0 };

  get stats(): { clients: number; subscribers: number; droppedForSlowClients: number } {
    return { ...this.counts, subscribers: this.subscribers.size };
  }

  constructor(private readonly path: string, private readonly handlers: Handlers) {}

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
      const sub: Subscriber = { socket, dropped: 0 };
      this.subscribers.add(sub);
      socket.on('close', () => this.subscribers.delete(sub));
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

  publish(ev: TetragonEvent): void {
    if (!this.subscribers.size) return;
    const line = `${eventJson(ev)}\n`;
    for (const sub of this.subscribers) {
      if (sub.socket.writableLength > MAX_BACKLOG) {
        sub.dropped++;
        this.counts.droppedForSlowClients++;
        continue;
      }
      if (sub.dropped) {
        const notice: StreamNotice = { vigil_notice: { dropped_for_slow_client: sub.dropped } };
        sub.socket.write(`${JSON.stringify(notice)}\n`);
        sub.dropped = 0;
      }
      sub.socket.write(line);
    }
  }

  async close(): Promise<void> {
    for (const sub of this.subscribers) sub.socket.end();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.path, { force: true });
  }
}
