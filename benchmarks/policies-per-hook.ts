// Many policies on one hook: 1, 10, 50 and 500 TracingPolicies loaded in
// one agent, each a sys_openat Prefix policy on its own prefix that the
// open/close loop (benchmarks/workloads/open-close.c) never matches. Per
// count, rounds alternating with a run without the agent: the loop's cost
// per open/close over that baseline, the time the agent took to load the
// policies (from its process sensor attached to the end of its start's
// policy loads, by its log), its RSS once they are loaded, and how many loaded;
// the first error of those that did not. Then, in a run with
// kernel.bpf_stats_enabled, the kernel's time in the hook programs per
// open/close: what the wall-clock figures carry, less the noise of a shared CPU.
//
//   node dist/benchmarks/policies-per-hook.js [--opens N] [--rounds R] [--counts 1,10,50,500]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median, prefixPolicy, programDelta, programStats, settle, startAgent, withBpfStats, workload } from './harness.js';

const { values } = parseArgs({
  options: { opens: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '2' }, counts: { type: 'string', default: '1,10,50,500' } },
});
const OPENS = Number(values.opens);
const ROUNDS = Number(values.rounds);
const COUNTS = values.counts.split(',').map(Number);
const FILE = '/etc/hostname';

/** A directory of n policy files, each on its own prefix. */
function policyDir(root: string, n: number): string {
  const dir = join(root, String(n));
  mkdirSync(dir);
  for (let i = 1; i <= n; i++) {
    const id = String(i).padStart(4, '0');
    writeFileSync(join(dir, `p${id}.yaml`), prefixPolicy(`bench-prefix-${id}`, `/nonexistent-vigil-bench-${id}/`));
  }
  return dir;
}

interface LogLine { time: number; msg: string; hooks?: { error?: string }[] }

/** From the agent's log: the seconds from its process sensor to its last policy, the policies loaded, the first error. */
function loading(log: string): { seconds: number; loaded: number; failed: number; error?: string } {
  const lines = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  const start = lines.find((l) => l.msg === 'sensor attached')!.time;
  const policies = lines.filter((l) => l.msg === 'policy loaded' || l.msg === 'policy error');
  const failed = policies.filter((l) => l.msg === 'policy error');
  // Loaded at start, hook groups go into the kernel once all are placed.
  const end = lines.find((l) => l.msg === 'policies of the start loaded') ?? policies.at(-1)!;
  return {
    seconds: (end.time - start) / 1000,
    loaded: policies.length - failed.length,
    failed: failed.length,
    error: failed[0]?.hooks?.find((h) => h.error)?.error,
  };
}

async function main(): Promise<void> {
  const bin = workload('open-close');
  // On one CPU, so that the rounds do not differ by where the scheduler put the loop.
  const run = (): number => Number(execFileSync('taskset', ['-c', '0', bin, String(OPENS), FILE], { encoding: 'utf8' }));
  const root = mkdtempSync(join(tmpdir(), 'vigil-bench-policies-'));
  const dirs = new Map(COUNTS.map((n) => [n, policyDir(root, n)]));
  run();
  const base: number[] = [];
  const per = new Map(COUNTS.map((n) => [n, { times: [] as number[], bpf: [] as number[], load: [] as number[], rss: [] as number[], loaded: 0, failed: 0, error: undefined as string | undefined }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of COUNTS) {
      base.push(run());
      const agent = await startAgent(['--no-export-file', '--policy', dirs.get(n)!]);
      try {
        const m = per.get(n)!;
        const l = loading(agent.log());
        Object.assign(m, { loaded: l.loaded, failed: l.failed, error: l.error });
        m.load.push(l.seconds);
        m.rss.push(agent.statusBytes('VmRSS'));
        await settle(agent);
        m.times.push(run());
        // Apart from the timed run: each hook program runs once per openat, the machine's other processes' included.
        m.bpf.push(await withBpfStats(() => {
          const before = programStats(agent.pid);
          run();
          const d = programDelta(before, programStats(agent.pid), 'vigil_generic_tp');
          return (d.ns / Math.max(d.runs, 1)) * d.programs;
        }));
      } finally {
        await agent.stop();
      }
    }
  }
  rmSync(root, { recursive: true, force: true });
  const nsPerOpen = (xs: number[]): number => (median(xs) / OPENS) * 1e9;
  const baseNs = nsPerOpen(base);
  const cost = (n: number): number => nsPerOpen(per.get(n)!.times) - baseNs;
  const result: Record<string, number | string> = { opens_per_round: OPENS, rounds: ROUNDS, baseline_ns_per_open_close: Math.round(baseNs) };
  for (const [n, m] of per) {
    result[`policies_${n}_ns_over_baseline`] = Math.round(cost(n));
    result[`policies_${n}_bpf_ns_per_open_close`] = Math.round(median(m.bpf));
    result[`policies_${n}_loaded`] = m.loaded;
    result[`policies_${n}_load_s`] = +median(m.load).toFixed(2);
    result[`policies_${n}_agent_rss_mib`] = +(median(m.rss) / 1048576).toFixed(1);
    if (m.failed) result[`policies_${n}_failed`] = `${m.failed}: ${m.error}`;
  }
  if (per.has(1) && per.has(50)) {
    result.cost_50_over_cost_1 = +(cost(50) / cost(1)).toFixed(1);
    result.bpf_cost_50_over_cost_1 = +(median(per.get(50)!.bpf) / median(per.get(1)!.bpf)).toFixed(1);
  }
  console.log(JSON.stringify(result, null, 2));
}

await main();
