// The line formats an output can write, one event a line: Tetragon's JSON,
// Elastic Common Schema, OCSF, and the compact line `tetra getevents -o
// compact` prints.
import type { TetragonEvent } from './tetragon.js';
import { eventJson } from './json.js';
import { compactLine } from './compact.js';
import { ecsLine } from './ecs.js';
import { ocsfLine } from './ocsf.js';

export const OUTPUT_FORMATS = ['json', 'ecs', 'ocsf', 'compact'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One event as a line of the format, without the newline; undefined when the format has no line for it. */
export type LineFormat = (ev: TetragonEvent) => string | undefined;

const FORMATS: Record<OutputFormat, LineFormat> = {
  json: eventJson,
  ecs: ecsLine,
  ocsf: ocsfLine,
  compact: (ev) => compactLine(ev),
};

export const lineFormat = (format: OutputFormat): LineFormat => FORMATS[format];
