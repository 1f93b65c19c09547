// Events on standard output, as JSON lines or compact lines. A closed
// pipe (EPIPE) stops this exporter, never the agent.
import type { Exporter } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { compactLine } from './compact.js';
import { eventJson } from './json.js';

export type StdoutFormat = 'json' | 'compact';

export class StdoutExporter implements Exporter {
  readonly name = 'stdout';
  private written = 0;
  private closed = false;

  constructor(private readonly format: StdoutFormat, private readonly out: NodeJS.WriteStream = process.stdout) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
    });
  }

  write(ev: TetragonEvent): void {
    if (this.closed) return;
    const line = this.format === 'json' ? eventJson(ev) : compactLine(ev);
    if (line === undefined) return;
    this.out.write(`${line}\n`);
    this.written++;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.out.writableLength === 0) return resolve();
      this.out.once('drain', resolve);
      setTimeout(resolve, 2000).unref();
    });
  }

  stats(): Record<string, number | string> {
    return { format: this.format, written: this.written };
  }
}
