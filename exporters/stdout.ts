// Events on standard output, as lines of any output format. A reader that
// stops reading never makes the agent hold events without bound: past
// maxBacklogBytes unwritten, events are dropped and counted. A closed pipe
// (EPIPE) stops this exporter, never the agent, and is logged once.
import type { Exporter, ExporterLog } from './exporter.js';
import type { TetragonEvent } from './tetragon.js';
import { lineFormat, type LineFormat, type OutputFormat } from './formats.js';

export type StdoutFormat = OutputFormat;

export class StdoutExporter implements Exporter {
  readonly name = 'stdout';
  private readonly counts = { written: 0, dropped: 0 };
  private closed = false;
  private readonly line: LineFormat;

  constructor(private readonly format: StdoutFormat, private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly log?: ExporterLog, private readonly maxBacklogBytes = 16 << 20) {
    this.line = lineFormat(format);
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (this.closed) return;
      this.closed = true;
      this.log?.warn({ exporter: this.name, error: err.code ?? err.message, written: this.counts.written }, 'standard output closed; events no longer go there');
    });
  }

  write(ev: TetragonEvent): void {
    if (this.closed) {
      this.counts.dropped++;
      return;
    }
    if (this.out.writableLength > this.maxBacklogBytes) {
      this.counts.dropped++;
      return;
    }
    const line = this.line(ev);
    if (line === undefined) return;
    this.out.write(`${line}\n`);
    this.counts.written++;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.out.writableLength === 0) return resolve();
      this.out.once('drain', resolve);
      setTimeout(resolve, 2000).unref();
    });
  }

  stats(): Record<string, number | string> {
    return { format: this.format, ...this.counts, ...(this.closed ? { error: 'closed' } : {}) };
  }
}
