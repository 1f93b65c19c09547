// The live event stream of the control socket (`vigil events`): JSON lines
// to every subscribed connection, written once a turn of the event loop
// (one socket write for the events of a ring batch, not one each). A
// subscriber further behind than MAX_BACKLOG bytes misses events, and is
// told how many before the next. Without subscribers nothing is serialized.
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
  /** The lines of this turn of the event loop, and how many. */
  private batch = '';
  private batchEvents = 0;
  private flushQueued = false;

  /** Streams every later event to socket until it closes. */
  subscribe(socket: Socket): void {
    // Events from before it subscribed go to the others first.
    this.flush();
    const sub: Subscriber = { socket, dropped: 0 };
    this.subscribers.add(sub);
    socket.on('close', () => this.subscribers.delete(sub));
  }

  write(ev: TetragonEvent): void {
    if (!this.subscribers.size) return;
    this.batch += `${eventJson(ev)}\n`;
    this.batchEvents++;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const n = this.batchEvents;
    if (!n) return;
    const text = this.batch;
    this.batch = '';
    this.batchEvents = 0;
    for (const sub of this.subscribers) {
      if (sub.socket.writableLength > MAX_BACKLOG) {
        sub.dropped += n;
        this.droppedForSlowClients += n;
        continue;
      }
      if (sub.dropped) {
        const notice: StreamNotice = { vigil_notice: { dropped_for_slow_client: sub.dropped } };
        sub.socket.write(`${JSON.stringify(notice)}\n`);
        sub.dropped = 0;
      }
      sub.socket.write(text);
      this.written += n;
    }
  }

  close(): Promise<void> {
    this.flush();
    for (const sub of this.subscribers) sub.socket.end();
    return Promise.resolve();
  }

  stats(): Record<string, number | string> {
    return { subscribers: this.subscribers.size, written: this.written, dropped_for_slow_clients: this.droppedForSlowClients };
  }
}
