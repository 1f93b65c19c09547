// A tracepoint's record layout, from tracefs (events/<subsystem>/<event>/format).
// Policy tracepoint args name fields by index, common fields included.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError } from '../errors.js';
import type { TracepointField } from '../../policies/compiler/encode.js';

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export function tracepointDir(subsystem: string, event: string): string | undefined {
  for (const root of TRACEFS) {
    const dir = join(root, 'events', subsystem, event);
    if (existsSync(join(dir, 'format'))) return dir;
  }
  return undefined;
}

const FIELD = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d);/;

export function parseFormat(text: string): TracepointField[] {
  const out: TracepointField[] = [];
  for (const line of text.split('\n')) {
    const m = FIELD.exec(line);
    if (!m) continue;
    const decl = m[1].trim();
    const name = /([A-Za-z_]\w*)(\[[^\]]*\])?$/.exec(decl)?.[1] ?? decl;
    out.push({ name, type: decl.slice(0, decl.lastIndexOf(name)).trim(), offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' });
  }
  return out;
}

export function tracepointFields(subsystem: string, event: string): TracepointField[] {
  const dir = tracepointDir(subsystem, event);
  if (!dir) throw new VigilError('VIGIL_NOT_SUPPORTED', `tracepoint ${subsystem}/${event} does not exist in this kernel (no format in tracefs)`);
  return parseFormat(readFileSync(join(dir, 'format'), 'utf8'));
}
