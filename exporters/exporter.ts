// An exporter receives every event, in order, and flushes on close.
import type { TetragonEvent } from './tetragon.js';

export interface Exporter {
  readonly name: string;
  write(ev: TetragonEvent): void;
  /** Flushes what is buffered; resolves once it is written. */
  close(): Promise<void>;
  stats(): Record<string, number | string>;
}
