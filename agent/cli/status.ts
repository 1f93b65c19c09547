// vigil status
import { ask } from '../control/client.js';

interface ProgramRow { sensor: string; program: string; hook: string; emitted: number; lost: number; undecided: number }

/** The fields of the agent's status this view prints (Agent.status()). */
interface StatusAnswer {
  node_name: string; pid: number; uptime_seconds: number; lost_events: number; internal_errors: number; rss_bytes: number;
  events: Record<string, number>;
  ring_buffer: { bytes: number; records: number; discarded: number };
  process_cache: { size: number; evicted: number };
  programs: ProgramRow[];
  exporters: Record<string, unknown>[];
  kubernetes?: {
    enabled: boolean; state?: string; since?: string; last_error?: string; node_name?: string;
    pods?: number; deleted_pods_kept?: number; event_cache?: { waiting: number; waited: number; timed_out: number; overflowed: number };
  };
}

function kubernetesLine(k: StatusAnswer['kubernetes']): string {
  if (!k?.enabled) return 'off';
  const c = k.event_cache;
  return `${k.state} since ${k.since} (node ${k.node_name}): ${k.pods} pods, ${k.deleted_pods_kept} deleted kept`
    + (c ? `; event cache: ${c.waiting} waiting, ${c.waited} waited, ${c.timed_out} timed out, ${c.overflowed} overflowed` : '')
    + (k.last_error ? `; last error: ${k.last_error}` : '');
}

export async function status(opts: { json: boolean; socket: string }): Promise<void> {
  const s = (await ask(opts.socket, { op: 'status' })) as StatusAnswer;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  const lines = [
    `node:           ${s.node_name} (agent pid ${s.pid}, up ${s.uptime_seconds}s)`,
    `events:         ${s.events.process_exec} process_exec (${s.events.procfs} from /proc), ${s.events.process_exit} process_exit`,
    `lost events:    ${s.lost_events}`,
    `internal errors: ${s.internal_errors}`,
    `ring buffer:    ${s.ring_buffer.bytes} bytes, ${s.ring_buffer.records} records read, ${s.ring_buffer.discarded} discarded`,
    `process cache:  ${s.process_cache.size} processes (${s.process_cache.evicted} evicted)`,
    `memory:         ${(s.rss_bytes / 1048576).toFixed(1)} MiB RSS`,
    `kubernetes:     ${kubernetesLine(s.kubernetes)}`,
    'programs:',
    ...s.programs.map((p) =>
      `  ${`${p.sensor}/${p.program}`.padEnd(24)} ${p.hook.padEnd(28)} emitted ${String(p.emitted).padStart(9)}  lost ${p.lost}${p.undecided ? `  undecided ${p.undecided}` : ''}`),
    'exporters:',
    ...s.exporters.map((e) => `  ${Object.entries(e).map(([k, v]) => `${k}=${v}`).join(' ')}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
