// JSON lines appended to a file: one Tetragon-format event a line.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Exporter } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { eventJson } from './json.js';

export const DEFAULT_EXPORT_FILE = '/var/log/vigil/events.log';

export class JsonFileExporter implements Exporter {
  readonly name = 'json-file';
  private readonly out: WriteStream;
  private written = 0;
  private failed?: Error;
  /** Lines not yet handed to the stream: one write per batch, not per event. */
  private pending = '';
  private flushQueued = false;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.out = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.out.on('error', (err) => {
      this.failed = err;
    });
  }

  write(ev: TetragonEvent): void {
    if (this.failed) return;
    this.pending += `${eventJson(ev)}\n`;
    this.written++;
    if (this.pending.length > 1 << 16) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (!this.pending) return;
    this.out.write(this.pending);
    this.pending = '';
  }

  close(): Promise<void> {
    this.flush();
    return new Promise((resolve) => this.out.end(resolve));
  }

  stats(): Record<string, number | string> {
    return { path: this.path, written: this.written, ...(this.failed ? { error: this.failed.message } : {}) };
  }
}
