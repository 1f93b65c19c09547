// tracefs: which tracepoints exist, their fields, and syscall arguments.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** The tracefs mount, mounting it at /sys/kernel/tracing when absent and allowed; or undefined. */
export function findTracefs(): string | undefined {
  const found = (): string | undefined => ROOTS.find((r) => existsSync(join(r, 'events')));
  if (found() || process.getuid?.() !== 0) return found();
  try {
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', ROOTS[0]], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return found();
}

/** Entries of a directory, or [] when it cannot be read. */
export function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export const subsystems = (root: string): string[] => entries(join(root, 'events')).filter((e) => !['enable', 'header_event', 'header_page'].includes(e));

export const events = (root: string, subsystem: string): string[] => entries(join(root, 'events', subsystem)).filter((e) => e !== 'enable' && e !== 'filter');

/** Field names of an event's format, common fields first; undefined when unreadable. */
export function eventFields(root: string, subsystem: string, event: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, 'events', subsystem, event, 'format'), 'utf8');
  } catch {
    return undefined;
  }
  return [...text.matchAll(/^\s*field:([^;]*);/gm)].map((m) => m[1].trim().split(/\s+/).pop()!.replace(/\[.*$/, ''));
}

/** Syscall names with a sys_enter_ event. */
export const syscallEvents = (root: string): string[] =>
  events(root, 'syscalls').filter((e) => e.startsWith('sys_enter_')).map((e) => e.slice('sys_enter_'.length));

/** Argument count of a syscall, from its sys_enter_ event. */
export function syscallArgs(root: string, name: string): number | undefined {
  const fields = eventFields(root, 'syscalls', `sys_enter_${name}`);
  const nr = fields?.indexOf('__syscall_nr') ?? -1;
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
