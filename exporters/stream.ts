// The live event stream of the control socket (`vigil events`): JSON lines
// to every subscribed connection. A subscriber further behind than
// MAX_BACKLOG bytes misses events, and is told how many before the next.
import type { Socket } from 'node:net';
import type { Exporter } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { eventJson } from './json.js';

const MAX_BACKLOG = 16 << 20;

/** A line the agent sends on an events stream when it had to skip events for a slow client. */
export interface StreamNotice {
  vigil_notice: { dropped_for_slow_client: number };
}

interface Subscriber {
  socket: Socket;
  dropped: number;
}

export class StreamExporter implements Exporter {
  readonly name = 'stream';
  private readonly subscribers = new Set<Subscriber>();
  private written = 0;
  private droppedForSlowClients = 0;

  /** Streams every later event to socket until it closes. */
  subscribe(socket: Socket): void {
    const sub: Subscriber = { socket, dropped: 0 };
    this.subscribers.add(sub);
    socket.on('close', () => this.subscribers.delete(sub));
  }

  write(ev: TetragonEvent): void {
    if (!this.subscribers.size) return;
    const line = `${eventJson(ev)}\n`;
    for (const sub of this.subscribers) {
      if (sub.socket.writableLength > MAX_BACKLOG) {
        sub.dropped++;
        this.droppedForSlowClients++;
        continue;
      }
      if (sub.dropped) {
        const notice: StreamNotice = { vigil_notice: { dropped_for_slow_client: sub.dropped } };
        sub.socket.write(`${JSON.stringify(notice)}\n`);
        sub.dropped = 0;
      }
      sub.socket.write(line);
      this.written++;
    }
  }

  close(): Promise<void> {
    for (const sub of this.subscribers) sub.socket.end();
    return Promise.resolve();
  }

  stats(): Record<string, number | string> {
    return { subscribers: this.subscribers.size, written: this.written, dropped_for_slow_clients: this.droppedForSlowClients };
  }
}
