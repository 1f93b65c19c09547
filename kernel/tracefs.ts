// tracefs: where it is, mounting it, which tracepoints exist, their record
// layouts, and syscall arguments. Every stage finds tracefs through here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError } from './errors.js';
import { mountFs } from './mounts.js';

/** Where tracefs is mounted: its own mount point, then the old debugfs place. */
const ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** The tracefs root in use, or undefined when none is mounted. */
export function tracefsRoot(): string | undefined {
  return ROOTS.find((r) => existsSync(join(r, 'events')));
}

/**
 * The tracefs root, mounting tracefs at /sys/kernel/tracing when it is not
 * mounted. `mounted` is the path it mounted, for a caller that unmounts it
 * again; `problem` says why there is no root.
 */
export function ensureTracefs(): { root?: string; mounted?: string; problem?: string } {
  const root = tracefsRoot();
  if (root) return { root };
  if (process.getuid?.() !== 0) return { problem: 'tracefs is not mounted, and only root can mount it' };
  try {
    mountFs('tracefs', ROOTS[0], 'tracefs (tracepoint ids)');
  } catch (err) {
    return { problem: (err as VigilError).message };
  }
  return { root: tracefsRoot(), mounted: ROOTS[0] };
}

/** Entries of a directory, or [] when it cannot be read. */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export const subsystems = (root: string): string[] => entries(join(root, 'events')).filter((e) => !['enable', 'header_event', 'header_page'].includes(e));

export const events = (root: string, subsystem: string): string[] => entries(join(root, 'events', subsystem)).filter((e) => e !== 'enable' && e !== 'filter');

/** A field of a tracepoint's record, from its format file. */
export interface TracepointField {
  name: string;
  offset: number;
  size: number;
  signed: boolean;
  /** The C type as the format file writes it, e.g. `const char *`. */
  type: string;
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

/** An event's fields, common fields first; undefined when the event does not exist or tracefs is not mounted. */
export function tracepointFields(subsystem: string, event: string, root = tracefsRoot()): TracepointField[] | undefined {
  if (!root) return undefined;
  let text: string;
  try {
    text = readFileSync(join(root, 'events', subsystem, event, 'format'), 'utf8');
  } catch {
    return undefined;
  }
  return parseFormat(text);
}

export const tracepointExists = (subsystem: string, event: string, root = tracefsRoot()): boolean =>
  !!root && existsSync(join(root, 'events', subsystem, event, 'format'));

/** Syscall names with a sys_enter_ event. */
export const syscallEvents = (root: string): string[] =>
  events(root, 'syscalls').filter((e) => e.startsWith('sys_enter_')).map((e) => e.slice('sys_enter_'.length));

/** Argument count of a syscall, from its sys_enter_ event. */
export function syscallArgs(root: string, name: string): number | undefined {
  const fields = tracepointFields('syscalls', `sys_enter_${name}`, root);
  const nr = fields?.findIndex((f) => f.name === '__syscall_nr') ?? -1;
  return fields && nr >= 0 ? fields.length - nr - 1 : undefined;
}

let traceable: Set<string> | undefined;

/** Whether kprobes can attach to `name` (available_filter_functions). */
export function isTraceable(root: string, name: string): boolean {
  if (!traceable) {
    let text = '';
    try {
      text = readFileSync(join(root, 'available_filter_functions'), 'utf8');
    } catch { /* unreadable: nothing is known */ }
    traceable = new Set(text.split('\n').map((l) => l.split(' ')[0]));
  }
  return traceable.has(name);
}
