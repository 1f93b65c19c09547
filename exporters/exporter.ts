// An exporter receives every event, in order, and flushes on close.
import type { TetragonEvent } from './tetragon.js';

/** Where an exporter says that its sink failed and came back (the agent's pino logger fits). */
export interface ExporterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface Exporter {
  readonly name: string;
  write(ev: TetragonEvent): void;
  /** Flushes what is buffered; resolves once it is written. */
  close(): Promise<void>;
  /** Reopens its output (SIGHUP, after a rotation by rename). */
  reopen?(): void;
  stats(): Record<string, number | string>;
}
