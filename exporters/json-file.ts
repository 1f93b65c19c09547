// JSON lines appended to a file: one Tetragon-format event a line.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Exporter } from './exporter.js';
import type { TetragonEvent } from '../agent/events/tetragon.js';

export const DEFAULT_EXPORT_FILE = '/var/log/vigil/events.log';

export class JsonFileExporter implements Exporter {
  readonly name = 'json-file';
  private readonly out: WriteStream;
  private written = 0;
  private failed?: Error;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.out = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.out.on('error', (err) => {
      this.failed = err;
    });
  }

  write(ev: TetragonEvent): void {
    if (this.failed) return;
    this.out.write(`${JSON.stringify(ev)}\n`);
    this.written++;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }

  stats(): Record<string, number | string> {
    return { path: this.path, written: this.written, ...(this.failed ? { error: this.failed.message } : {}) };
  }
}
