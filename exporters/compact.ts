// One human line per event, as `tetra getevents -o compact` prints them
// (Tetragon's pkg/encoder): the event's emoji and name padded to 7, the
// node (or namespace/pod) and binary, what the event is about, and, for a
// process whose effective capability list is long enough, a 🛑 trailer.
import type { TetragonEvent, TetragonProcess, VigilLost } from './tetragon.js';
import { capTrailer, kprobeLine, label, lsmLine, processInfo, tracepointLine, uprobeLine } from './compact-policy.js';
import { PLAIN, type Palette } from './compact-color.js';

export interface CompactOptions {
  palette?: Palette;
  /** Prefix the event's time, UTC with nanoseconds (tetra's --timestamps). */
  timestamps?: boolean;
}

export function compactLine(ev: TetragonEvent, opts: CompactOptions = {}): string | undefined {
  const line = eventLine(ev, opts.palette ?? PLAIN);
  return line !== undefined && opts.timestamps ? `${nanoTime(ev.time)} ${line}` : line;
}

function eventLine(ev: TetragonEvent, c: Palette): string | undefined {
  if (ev.process_exec) {
    const p = ev.process_exec.process;
    return capTrailer(`${label(c, '🚀', 'process')} ${processInfo(p, ev.node_name, c)} ${c.cyan(p.arguments ?? '')}`, p, c);
  }
  if (ev.process_exit) {
    const { process: p, signal, status } = ev.process_exit;
    return capTrailer(`${label(c, '💥', 'exit')} ${processInfo(p, ev.node_name, c)} ${c.cyan(p.arguments ?? '')} ${c.red(String(signal || (status ?? 0)))}`, p, c);
  }
  if (ev.process_kprobe) return kprobeLine(ev.process_kprobe, ev.node_name, c);
  if (ev.process_tracepoint) return tracepointLine(ev.process_tracepoint, ev.node_name, c);
  if (ev.process_uprobe) return uprobeLine(ev.process_uprobe, ev.node_name, c);
  if (ev.process_lsm) return lsmLine(ev.process_lsm, ev.node_name, c);
  if (ev.vigil_lost) return lostLine(ev.vigil_lost, ev.node_name);
  if (ev.rate_limit_info) return `⚠️ rate limit ${ev.node_name} ${ev.rate_limit_info.number_of_dropped_process_events} events dropped`;
  return undefined;
}

export type { TetragonProcess };

/** RFC 3339 in UTC with nine fraction digits, as Tetragon's encoder prints an event's time. */
export function nanoTime(time: string): string {
  const m = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return time;
  const [, whole, frac = '', zone] = m;
  const ns = frac.padEnd(9, '0').slice(0, 9);
  if (zone === 'Z') return `${whole}.${ns}Z`;
  const utc = new Date(`${whole}${zone}`).toISOString().slice(0, 19);
  return `${utc}.${ns}Z`;
}

function lostLine(l: VigilLost, node: string): string {
  const causes = [
    ...(l.ring_buffer ?? []).filter((r) => r.lost).map((r) => `${r.lost} ${r.program} (ring buffer full)`),
    ...(l.exporters ?? []).filter((e) => e.dropped).map((e) => `${e.dropped} dropped by ${e.name}`),
    ...(l.undecodable ? [`${l.undecodable} undecodable`] : []),
  ];
  return `⚠️ lost    ${node} ${l.lost} events: ${causes.join(', ')}`;
}
