// JSON lines appended to a file: one Tetragon-format event a line (or one
// line of another format: ECS, OCSF, compact).
//
// Events are batched and written with write(2) once per tick. A failed or
// short write (a full disk, an I/O error) is cut back to the last whole
// line, so a reader never sees half an event; the batch is kept (bounded)
// and retried, and the failure and the recovery are logged once each. The
// file is reopened when it is renamed or deleted under the agent (logrotate
// without copytruncate), and on reopen() (SIGHUP). Past `maxPendingBytes`
// waiting, events are dropped and counted, never held without bound.
//
// The agent rotates the file itself, as Tetragon's --export-file-* flags
// do: before a line would take it past maxBytes, and every rotateMs; the
// file is renamed to a timestamped backup and a new one opened
// (rotation.ts names, prunes and compresses the backups).
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Exporter, ExporterLog } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { eventJson } from './json.js';
import { backupName, mill } from './rotation.js';
import { VigilError } from '../kernel/errors.js';

export const DEFAULT_EXPORT_FILE = '/var/log/vigil/events.log';

/** The batch buffer's first size, and the batch size written at once without waiting for the end of the tick. */
const INITIAL_BUFFER = 1 << 18;
const FLUSH_BYTES = 1 << 17;

/** Node's Buffer method under Buffer#write('utf8'), which @types/node does not declare. */
type Utf8Writer = Buffer & { utf8Write(text: string, offset: number): number };

export interface JsonFileOptions {
  /** File mode of the export file and its backups (default 0600), whatever the umask. */
  mode?: number;
  /** One event as a line (without the newline), or undefined to skip it (default: Tetragon JSON). */
  format?: (ev: TetragonEvent) => string | undefined;
  /** Rotate before the file would grow past this many bytes (default 0: never by size). */
  maxBytes?: number;
  /** Also rotate a non-empty file this often, in ms (default 0: never by time). */
  rotateMs?: number;
  /** Rotated backups kept; 0 keeps all (default 5, as Tetragon). */
  maxBackups?: number;
  /** Gzip the rotated backups (default false). */
  compress?: boolean;
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
  /** Lines waiting, back to back in one buffer reused from batch to batch: bytes [0, pendingBytes). */
  private pending = Buffer.allocUnsafe(INITIAL_BUFFER);
  private pendingBytes = 0;
  /** Where each pending line ends in `pending`. */
  private lineEnds: number[] = [];
  private flushQueued = false;
  private failing?: string;
  private readonly timer: NodeJS.Timeout;
  private readonly rotateTimer?: NodeJS.Timeout;
  /** The mill of the last rotation, and whether another is due after it. */
  private milling?: Promise<void>;
  private millAgain = false;
  private readonly opts: Required<Omit<JsonFileOptions, 'log'>> & { log?: ExporterLog };
  private readonly counts = { written: 0, dropped: 0, write_errors: 0, reopened: 0, rotations: 0 };

  constructor(readonly path: string, opts: JsonFileOptions = {}) {
    this.opts = {
      mode: 0o600, format: eventJson, maxBytes: 0, rotateMs: 0, maxBackups: 5, compress: false, maxPendingBytes: 32 << 20, checkMs: 1000, ...opts,
    };
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
    if (this.opts.rotateMs > 0) {
      this.rotateTimer = setInterval(() => this.rotateByTime(), this.opts.rotateMs);
      this.rotateTimer.unref();
    }
  }

  private open(): void {
    const fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, this.opts.mode);
    // The mode holds whatever the umask, and for a file that was already there.
    fchmodSync(fd, this.opts.mode);
    const st = fstatSync(fd);
    this.fd = fd;
    this.ino = st.ino;
    this.size = st.size;
  }

  write(ev: TetragonEvent): void {
    const text = this.opts.format(ev);
    if (text === undefined) return;
    // Encoded straight into the batch: no line string, no Buffer per batch.
    const at = this.pendingBytes;
    if (at + 3 * text.length + 1 > this.pending.length && !this.grow(at + Buffer.byteLength(text) + 1)) {
      this.counts.dropped++;
      return;
    }
    // utf8Write: Buffer#write without its argument checks (the room is there).
    const end = at + (this.pending as Utf8Writer).utf8Write(text, at);
    if (end + 1 > this.opts.maxPendingBytes) {
      this.counts.dropped++;
      return;
    }
    this.pending[end] = 10;
    this.pendingBytes = end + 1;
    this.lineEnds.push(end + 1);
    if (this.pendingBytes > FLUSH_BYTES) this.flush(false);
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  /** Makes room for `need` pending bytes; false past maxPendingBytes. */
  private grow(need: number): boolean {
    if (need > this.opts.maxPendingBytes) return false;
    if (need <= this.pending.length) return true;
    const next = Buffer.allocUnsafe(Math.min(Math.max(need, 2 * this.pending.length), this.opts.maxPendingBytes + 4));
    this.pending.copy(next, 0, 0, this.pendingBytes);
    this.pending = next;
    return true;
  }

  /**
   * Writes what waits; on failure keeps it for the next try. `check`: first
   * reopen a file deleted or renamed since the last batch (once a turn of the
   * event loop, not at each full buffer), so no event goes to a name nobody reads.
   */
  private flush(check = true): void {
    if (check) this.flushQueued = false;
    if (!this.lineEnds.length) return;
    if (check && this.fd >= 0 && this.moved()) this.reopen();
    while (this.lineEnds.length && this.fd >= 0) {
      let n = this.fitting();
      if (n === 0) {
        // A file that cannot be renamed takes the lines past its limit rather than none.
        if (this.rotate()) continue;
        if (this.fd < 0) return;
        n = this.lineEnds.length;
      }
      const bytes = this.lineEnds[n - 1];
      let done = 0;
      try {
        while (done < bytes) done += writeSync(this.fd, this.pending, done, bytes - done);
      } catch (err) {
        this.failed(err as NodeJS.ErrnoException);
        return;
      }
      this.size += done;
      this.counts.written += n;
      this.consume(n, bytes);
    }
    if (this.fd < 0) return;
    if (this.failing) {
      this.opts.log?.info({ exporter: this.name, path: this.path, dropped: this.counts.dropped }, 'export file writable again');
      this.failing = undefined;
    }
  }

  /** How many pending lines fit before the size limit; 0 when the file must rotate first. A line never fits only an empty file. */
  private fitting(): number {
    const ends = this.lineEnds;
    if (!this.opts.maxBytes) return ends.length;
    const room = this.opts.maxBytes - this.size;
    let n = 0;
    while (n < ends.length && (ends[n] <= room || (n === 0 && this.size === 0))) n++;
    return n;
  }

  /** Drops the first n pending lines (`bytes` bytes), written. */
  private consume(n: number, bytes: number): void {
    if (n === this.lineEnds.length) {
      this.lineEnds.length = 0;
      this.pendingBytes = 0;
      // A buffer grown while the file could not be written goes back to its first size.
      if (this.pending.length > 4 * INITIAL_BUFFER) this.pending = Buffer.allocUnsafe(INITIAL_BUFFER);
      return;
    }
    this.pending.copy(this.pending, 0, bytes, this.pendingBytes);
    this.pendingBytes -= bytes;
    this.lineEnds = this.lineEnds.slice(n).map((e) => e - bytes);
  }

  /** Renames the file to its backup and opens a new one, then starts the mill; false when the rename failed. */
  private rotate(): boolean {
    try {
      closeSync(this.fd);
    } catch { /* already gone */ }
    this.fd = -1;
    let rotated = false;
    try {
      renameSync(this.path, backupName(this.path, new Date()));
      this.counts.rotations++;
      rotated = true;
    } catch (err) {
      // The file is appended to again, and rotation retried at the next limit.
      this.opts.log?.error({ exporter: this.name, path: this.path, error: (err as Error).message }, 'cannot rotate the export file');
    }
    try {
      this.open();
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
      return false;
    }
    if (rotated) this.startMill();
    return rotated;
  }

  private rotateByTime(): void {
    this.flush();
    if (this.fd >= 0 && this.size > 0) this.rotate();
  }

  /** One mill at a time; a rotation during one runs another after it. */
  private startMill(): void {
    if (this.milling) {
      this.millAgain = true;
      return;
    }
    const { maxBackups, compress, mode } = this.opts;
    this.milling = mill(this.path, { maxBackups, compress, mode })
      .catch((err: Error) => this.opts.log?.error({ exporter: this.name, path: this.path, error: err.message }, 'cannot prune or compress export file backups'))
      .finally(() => {
        this.milling = undefined;
        if (this.millAgain) {
          this.millAgain = false;
          this.startMill();
        }
      });
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

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.rotateTimer);
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    while (this.milling) await this.milling;
  }

  stats(): Record<string, number | string> {
    return {
      path: this.path, ...this.counts, pending: this.lineEnds.length,
      ...(this.failing ? { error: this.failing } : {}),
    };
  }
}
