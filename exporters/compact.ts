// One human line per event, as `tetra getevents -o compact` prints them
// (Tetragon's pkg/encoder): the event's emoji and name padded to 7, the
// node (or namespace/pod) and binary, what the event is about, and, for a
// process whose effective capability list is long enough, a 🛑 trailer.
import type { TetragonEvent, TetragonProcess, VigilLost } from './tetragon.js';
import { capTrailer, kprobeLine, lsmLine, pad, processInfo, tracepointLine, uprobeLine } from './compact-policy.js';

export function compactLine(ev: TetragonEvent): string | undefined {
  if (ev.process_exec) {
    const p = ev.process_exec.process;
    return capTrailer(`🚀 ${pad('process')} ${processInfo(p, ev.node_name)} ${p.arguments ?? ''}`, p);
  }
  if (ev.process_exit) {
    const { process: p, signal, status } = ev.process_exit;
    return capTrailer(`💥 ${pad('exit')} ${processInfo(p, ev.node_name)} ${p.arguments ?? ''} ${signal || (status ?? 0)}`, p);
  }
  if (ev.process_kprobe) return kprobeLine(ev.process_kprobe, ev.node_name);
  if (ev.process_tracepoint) return tracepointLine(ev.process_tracepoint, ev.node_name);
  if (ev.process_uprobe) return uprobeLine(ev.process_uprobe, ev.node_name);
  if (ev.process_lsm) return lsmLine(ev.process_lsm, ev.node_name);
  if (ev.vigil_lost) return lostLine(ev.vigil_lost, ev.node_name);
  if (ev.rate_limit_info) return `⚠️ rate limit ${ev.node_name} ${ev.rate_limit_info.number_of_dropped_process_events} events dropped`;
  return undefined;
}

export type { TetragonProcess };

function lostLine(l: VigilLost, node: string): string {
  const causes = [
    ...(l.ring_buffer ?? []).filter((r) => r.lost).map((r) => `${r.lost} ${r.program} (ring buffer full)`),
    ...(l.exporters ?? []).filter((e) => e.dropped).map((e) => `${e.dropped} dropped by ${e.name}`),
    ...(l.undecodable ? [`${l.undecodable} undecodable`] : []),
  ];
  return `⚠️ lost    ${node} ${l.lost} events: ${causes.join(', ')}`;
}
