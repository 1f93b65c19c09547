// A byte stream to a TCP or TLS server that comes and goes: messages are
// queued (bounded), written while connected, and reconnected with backoff
// (0.1 s doubling to 30 s) when the server goes away.
//
// A message counts as delivered only once the peer's TCP acknowledged it:
// the writer sends at most a window (1 MiB) past the last moment the send
// queue was empty (SIOCOUTQ 0), and confirms the window then. When the
// connection breaks, what was written but not confirmed is queued again at
// the front and resent after the reconnect: delivery is at least once,
// never silently lost. Past maxPendingBytes queued and unconfirmed, new
// messages are refused and the caller counts them dropped.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ExporterLog } from './exporter.js';
import { unackedBytes } from '../kernel/socket-queue.js';

export interface StreamSinkOptions {
  name: string;
  host: string;
  port: number;
  /** TLS options (ca, cert, key, servername), read again at each connect; undefined for plain TCP. */
  tls?: () => ConnectionOptions;
  maxPendingBytes?: number;
  log?: ExporterLog;
}

const WINDOW = 1 << 20;
const BATCH = 64 << 10;

export class StreamSink {
  private queue: Buffer[] = [];
  private unconfirmed: Buffer[] = [];
  private pendingBytes = 0;
  private windowBytes = 0;
  private tcp?: Socket;
  private out?: Socket | TLSSocket;
  private connected = false;
  private closing = false;
  private backoffMs = 100;
  private retry?: NodeJS.Timeout;
  private poll?: NodeJS.Timeout;
  private failing?: string;
  /** Each connection's handlers act only while it is the current one. */
  private generation = 0;
  readonly counts = { delivered: 0, reconnects: 0, resent: 0, errors: 0 };

  constructor(private readonly opts: StreamSinkOptions) {
    this.connect();
  }

  get target(): string {
    return `${this.opts.tls ? 'tls' : 'tcp'}://${this.opts.host}:${this.opts.port}`;
  }

  get pending(): number {
    return this.queue.length + this.unconfirmed.length;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get error(): string | undefined {
    return this.failing;
  }

  /** Queues one message; false when the bound is reached (the caller counts it dropped). */
  push(msg: Buffer): boolean {
    if (this.closing || this.pendingBytes + msg.length > (this.opts.maxPendingBytes ?? 16 << 20)) return false;
    this.queue.push(msg);
    this.pendingBytes += msg.length;
    this.flush();
    return true;
  }

  private connect(): void {
    this.retry = undefined;
    if (this.closing) return;
    let tls: ConnectionOptions | undefined;
    try {
      tls = this.opts.tls?.();
    } catch (err) {
      this.broken(err as Error);
      return;
    }
    const gen = ++this.generation;
    const tcp = tcpConnect({ host: this.opts.host, port: this.opts.port });
    this.tcp = tcp;
    tcp.setNoDelay(true);
    const out = tls ? tlsConnect({ ...tls, socket: tcp, servername: tls.servername ?? (/^[\d.:]+$/.test(this.opts.host) ? undefined : this.opts.host) }) : tcp;
    this.out = out;
    out.once(tls ? 'secureConnect' : 'connect', () => {
      if (gen !== this.generation) return;
      this.connected = true;
      this.backoffMs = 100;
      if (this.failing) this.opts.log?.info({ exporter: this.opts.name, target: this.target }, 'connected again');
      this.failing = undefined;
      this.flush();
    });
    out.on('drain', () => gen === this.generation && this.flush());
    // The server never talks: its end or a reset is the connection's end.
    out.on('data', () => undefined);
    const end = (err: Error | string): void => {
      if (gen === this.generation) this.broken(err);
    };
    out.on('error', end);
    tcp.on('error', end);
    out.on('end', () => end('the server closed the connection'));
    out.on('close', () => end('connection closed'));
  }

  /** The connection is gone: what it had not confirmed goes back to the front of the queue. */
  private broken(err: Error | string): void {
    if (!this.out && this.retry) return;
    this.generation++;
    const tcp = this.tcp;
    const out = this.out;
    this.tcp = undefined;
    this.out = undefined;
    this.connected = false;
    out?.destroy();
    tcp?.destroy();
    clearTimeout(this.poll);
    this.poll = undefined;
    if (this.unconfirmed.length) {
      this.counts.resent += this.unconfirmed.length;
      this.queue = [...this.unconfirmed, ...this.queue];
      this.unconfirmed = [];
    }
    this.windowBytes = 0;
    const message = typeof err === 'string' ? err : err.message;
    const why = typeof err === 'string' ? err : (err as NodeJS.ErrnoException).code ?? err.message;
    if (this.failing !== why) {
      this.counts.errors++;
      this.opts.log?.warn({ exporter: this.opts.name, target: this.target, error: message, pending: this.pending }, 'connection lost; events wait and are resent');
    }
    this.failing = why;
    if (this.closing || this.retry) return;
    const delay = this.backoffMs * (0.8 + Math.random() * 0.4);
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.retry = setTimeout(() => {
      this.counts.reconnects++;
      this.connect();
    }, delay);
    this.retry.unref();
  }

  /** Writes queued messages while connected, up to a window past the last confirmation. */
  private flush(): void {
    const out = this.out;
    if (!this.connected || !out) return;
    while (this.queue.length && this.windowBytes < WINDOW && out.writableLength < BATCH) {
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && bytes < BATCH) bytes += this.queue[n++].length;
      const batch = this.queue.splice(0, n);
      this.unconfirmed.push(...batch);
      this.windowBytes += bytes;
      out.write(n === 1 ? batch[0] : Buffer.concat(batch, bytes));
    }
    if (this.unconfirmed.length && !this.poll) this.poll = setTimeout(() => this.confirm(), 10);
  }

  /** Everything written so far is confirmed once nothing waits in Node or in the kernel's send queue. */
  private confirm(): void {
    this.poll = undefined;
    const out = this.out;
    if (!this.connected || !out || !this.tcp) return;
    const fd = (this.tcp as unknown as { _handle?: { fd?: number } })._handle?.fd;
    let unacked = 1;
    try {
      if (out.writableLength === 0 && this.tcp.writableLength === 0 && typeof fd === 'number' && fd >= 0) unacked = unackedBytes(fd);
    } catch { /* the socket is closing: its close requeues */ }
    if (unacked === 0) {
      for (const m of this.unconfirmed) this.pendingBytes -= m.length;
      this.counts.delivered += this.unconfirmed.length;
      this.unconfirmed = [];
      this.windowBytes = 0;
      this.flush();
    } else {
      this.poll = setTimeout(() => this.confirm(), 10);
    }
  }

  /** Reconnects now (SIGHUP): TLS files are read again. */
  reconnect(): void {
    if (this.closing) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    if (this.out) this.broken('reconnecting (SIGHUP)');
    clearTimeout(this.retry);
    this.retry = undefined;
    this.connect();
  }

  /** Waits up to timeoutMs for everything to be confirmed; returns what was not (the caller counts it dropped). */
  async close(timeoutMs = 5000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (this.pending && this.connected && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    this.closing = true;
    clearTimeout(this.retry);
    clearTimeout(this.poll);
    const left = this.pending;
    this.queue = [];
    this.unconfirmed = [];
    this.pendingBytes = 0;
    this.out?.destroy();
    this.tcp?.destroy();
    return left;
  }
}
