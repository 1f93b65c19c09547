// One human line per event, as `tetra getevents -o compact` prints them.
import type { TetragonEvent, TetragonProcess, VigilLost } from './tetragon.js';
import { kprobeLine, lsmLine, tracepointLine, uprobeLine } from './compact-policy.js';

function where(p: TetragonProcess, node: string): string {
  return p.pod ? `${p.pod.namespace}/${p.pod.name}` : node;
}

function command(p: TetragonProcess): string {
  return p.arguments ? `${p.binary} ${p.arguments}` : p.binary;
}

export function compactLine(ev: TetragonEvent): string | undefined {
  if (ev.process_exec) {
    const p = ev.process_exec.process;
    return `🚀 process ${where(p, ev.node_name)} ${command(p)}`;
  }
  if (ev.process_exit) {
    const { process: p, signal, status } = ev.process_exit;
    return `💥 exit    ${where(p, ev.node_name)} ${command(p)} ${signal || (status ?? 0)}`;
  }
  if (ev.process_kprobe) return kprobeLine(ev.process_kprobe, ev.node_name);
  if (ev.process_tracepoint) return tracepointLine(ev.process_tracepoint, ev.node_name);
  if (ev.process_uprobe) return uprobeLine(ev.process_uprobe, ev.node_name);
  if (ev.process_lsm) return lsmLine(ev.process_lsm, ev.node_name);
  if (ev.vigil_lost) return lostLine(ev.vigil_lost, ev.node_name);
  if (ev.rate_limit_info) return `⚠️ rate limit ${ev.node_name} ${ev.rate_limit_info.number_of_dropped_process_events} events dropped`;
  return undefined;
}

function lostLine(l: VigilLost, node: string): string {
  const causes = [
    ...(l.ring_buffer ?? []).filter((r) => r.lost).map((r) => `${r.lost} ${r.program} (ring buffer full)`),
    ...(l.exporters ?? []).filter((e) => e.dropped).map((e) => `${e.dropped} dropped by ${e.name}`),
    ...(l.undecodable ? [`${l.undecodable} undecodable`] : []),
  ];
  return `⚠️ lost    ${node} ${l.lost} events: ${causes.join(', ')}`;
}
