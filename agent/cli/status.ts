// vigil status
import { request } from '../control/client.js';

interface ProgramRow { sensor: string; program: string; hook: string; emitted: number; lost: number; undecided: number }

export async function status(opts: { json: boolean; socket: string }): Promise<void> {
  let answer = '';
  await request(opts.socket, { op: 'status' }, (line) => (answer += line));
  if (opts.json) {
    process.stdout.write(`${answer}\n`);
    return;
  }
  const s = JSON.parse(answer);
  const lines = [
    `node:           ${s.node_name} (agent pid ${s.pid}, up ${s.uptime_seconds}s)`,
    `events:         ${s.events.process_exec} process_exec (${s.events.procfs} from /proc), ${s.events.process_exit} process_exit`,
    `lost events:    ${s.lost_events}`,
    `ring buffer:    ${s.ring_buffer.bytes} bytes, ${s.ring_buffer.records} records read, ${s.ring_buffer.discarded} discarded`,
    `process cache:  ${s.process_cache.size} processes (${s.process_cache.evicted} evicted)`,
    `memory:         ${(s.rss_bytes / 1048576).toFixed(1)} MiB RSS`,
    'programs:',
    ...s.programs.map((p: ProgramRow) =>
      `  ${`${p.sensor}/${p.program}`.padEnd(24)} ${p.hook.padEnd(28)} emitted ${String(p.emitted).padStart(9)}  lost ${p.lost}${p.undecided ? `  undecided ${p.undecided}` : ''}`),
    'exporters:',
    ...s.exporters.map((e: Record<string, unknown>) => `  ${Object.entries(e).map(([k, v]) => `${k}=${v}`).join(' ')}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
