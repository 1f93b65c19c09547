// JSON lines appended to a file: one Tetragon-format event a line.
//
// Events are batched and written with write(2) once per tick. A failed or
// short write (a full disk, an I/O error) is cut back to the last whole
// line, so a reader never sees half an event; the batch is kept (bounded)
// and retried, and the failure and the recovery are logged once each. The
// file is reopened when it is renamed or deleted under the agent (logrotate
// without copytruncate), and on reopen() (SIGHUP). Past `maxPendingBytes`
// waiting, events are dropped and counted, never held without bound.
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Exporter, ExporterLog } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { eventJson } from './json.js';
import { VigilError } from '../kernel/errors.js';

export const DEFAULT_EXPORT_FILE = '/var/log/vigil/events.log';

export interface JsonFileOptions {
  /** File mode of a file it creates (default 0600). */
  mode?: number;
  /** Bytes of events held while the file cannot be written (default 32 MiB). */
  maxPendingBytes?: number;
  /** How often a failed write is retried and the file checked for a rename or delete, in ms (default 1000). */
  checkMs?: number;
  log?: ExporterLog;
}

export class JsonFileExporter implements Exporter {
  readonly name = 'json-file';
  private fd = -1;
  private ino = 0;
  /** Bytes of whole lines in the file. */
  private size = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushQueued = false;
  private failing?: string;
  private readonly timer: NodeJS.Timeout;
  private readonly opts: Required<Omit<JsonFileOptions, 'log'>> & { log?: ExporterLog };
  private readonly counts = { written: 0, dropped: 0, write_errors: 0, reopened: 0 };

  constructor(readonly path: string, opts: JsonFileOptions = {}) {
    this.opts = { mode: 0o600, maxPendingBytes: 32 << 20, checkMs: 1000, ...opts };
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      this.open();
    } catch (err) {
      throw new VigilError('VIGIL_USAGE', `cannot open the export file ${path}: ${(err as Error).message}`, {
        hint: 'choose a writable --export-file, or --no-export-file',
      });
    }
    this.timer = setInterval(() => this.check(), this.opts.checkMs);
    this.timer.unref();
  }

  private open(): void {
    const fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, this.opts.mode);
    const st = fstatSync(fd);
    this.fd = fd;
    this.ino = st.ino;
    this.size = st.size;
  }

  write(ev: TetragonEvent): void {
    const line = `${eventJson(ev)}\n`;
    if (this.pendingBytes + line.length > this.opts.maxPendingBytes) {
      this.counts.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes > 1 << 16) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what waits; on failure keeps it for the next try. */
  private flush(): void {
    this.flushQueued = false;
    if (!this.pending.length) return;
    // A file deleted or renamed since the last batch is reopened first, so no event goes to a name nobody reads.
    if (this.fd >= 0 && this.moved()) this.reopen();
    if (this.fd < 0) return;
    const buf = Buffer.from(this.pending.join(''));
    let done = 0;
    try {
      while (done < buf.length) done += writeSync(this.fd, buf, done);
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
      return;
    }
    this.size += done;
    this.counts.written += this.pending.length;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.failing) {
      this.opts.log?.info({ exporter: this.name, path: this.path, dropped: this.counts.dropped }, 'export file writable again');
      this.failing = undefined;
    }
  }

  /** A write failed part-way: cut the file back to its last whole line. */
  private failed(err: NodeJS.ErrnoException): void {
    this.counts.write_errors++;
    try {
      ftruncateSync(this.fd, this.size);
    } catch { /* the next check reopens the file */ }
    const why = err.code ?? err.message;
    if (this.failing !== why) this.opts.log?.error({ exporter: this.name, path: this.path, error: err.message }, 'cannot write the export file; events wait and are retried');
    this.failing = why;
  }

  /** Whether the path no longer names the open file (renamed, deleted or replaced). */
  private moved(): boolean {
    try {
      return statSync(this.path).ino !== this.ino;
    } catch {
      return true;
    }
  }

  /** Retries a failed write, and reopens the file when it was renamed or deleted while idle. */
  private check(): void {
    if (this.fd < 0 || this.moved()) this.reopen();
    else if (this.failing) this.flush();
  }

  reopen(): void {
    try {
      if (this.fd >= 0) closeSync(this.fd);
    } catch { /* already gone */ }
    this.fd = -1;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      this.open();
      this.counts.reopened++;
      this.opts.log?.info({ exporter: this.name, path: this.path }, 'export file reopened');
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
      return;
    }
    this.flush();
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    return Promise.resolve();
  }

  stats(): Record<string, number | string> {
    return {
      path: this.path, ...this.counts, pending: this.pending.length,
      ...(this.failing ? { error: this.failing } : {}),
    };
  }
}
