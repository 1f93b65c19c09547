// posix_spawn exec storm: a C loop (benchmarks/workloads/spawn-storm.c)
// that posix_spawn()s /bin/true and waits for each, timed side by side in
// one run without the agent and with `vigil run` on its defaults (JSON
// export to a file), rounds alternating. Prints the time per spawn, the
// slowdown, lost events, the storm's execs found in the export, and, from
// a separate run with kernel.bpf_stats_enabled, the kernel's time in each
// process sensor program per run (each runs once per spawn).
//
//   node dist/benchmarks/spawn-storm.js [--spawns N] [--rounds R] [--warmup W]
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { median, programDelta, programStats, sleep, startAgent, stormRounds, withBpfStats, workload } from './harness.js';

const TRUE = realpathSync('/bin/true');
const PROGRAMS = ['vigil_exec', 'vigil_fork', 'vigil_exit'];
const { values } = parseArgs({
  options: { spawns: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '3' }, warmup: { type: 'string', default: '500' } },
});
const SPAWNS = Number(values.spawns);
const ROUNDS = Number(values.rounds);
/** Spawns before each timed storm, with or without the agent, so both sides start warm. */
const WARMUP = Number(values.warmup);

const bin = realpathSync(workload('spawn-storm'));
const storm = (n = SPAWNS): number => Number(execFileSync(bin, [String(n), TRUE], { encoding: 'utf8' }));

/** Execs of /bin/true by the storm in an export file. */
function stormExecs(file: string): number {
  let n = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{"process_exec"')) continue;
    const { process: p, parent } = JSON.parse(line).process_exec;
    if (p.binary === TRUE && parent?.binary === bin) n++;
  }
  return n;
}

async function main(): Promise<void> {
  storm(WARMUP);
  let lost = 0;
  let exported = 0;
  const { base, withAgent } = await stormRounds({ rounds: ROUNDS, warmup: WARMUP, storm, flags: ['--export-file-max-size-mb', '0'] }, async (agent, timed) => {
    timed();
    await sleep(500);
    lost += agent.status().lost_events;
  }, (agent) => {
    exported += stormExecs(agent.exportFile);
  });
  // Apart from the timed rounds: the stats cost two clock reads per program run.
  // The programs run for every process of the machine: a storm during which
  // others spawned much too is run again (three at most), so that the figures
  // are the storm's own.
  const bpf = await withBpfStats(async () => {
    const agent = await startAgent(['--no-export-file']);
    try {
      storm(WARMUP);
      const measure = () => {
        const before = programStats(agent.pid);
        storm();
        const after = programStats(agent.pid);
        return PROGRAMS.map((name) => ({ name, ...programDelta(before, after, name) }));
      };
      let got = measure();
      for (let i = 1; i < 3 && got.some((p) => p.runs > SPAWNS * 1.1); i++) got = measure();
      return got;
    } finally {
      await agent.stop();
    }
  });
  const b = median(base);
  const result: Record<string, number> = {
    spawns_per_round: SPAWNS,
    rounds: ROUNDS,
    baseline_us_per_spawn: +((b / SPAWNS) * 1e6).toFixed(1),
    with_agent_us_per_spawn: +((median(withAgent) / SPAWNS) * 1e6).toFixed(1),
    slowdown_pct: +((median(withAgent) / b - 1) * 100).toFixed(2),
    lost_events: lost,
    storm_execs_exported: exported,
    storm_execs_run: (SPAWNS + WARMUP) * ROUNDS,
  };
  // Per run; runs_per_spawn above 1: the rest of the machine's processes, in the last storm measured.
  for (const p of bpf) {
    result[`${p.name}_bpf_ns_per_run`] = p.runs ? Math.round(p.ns / p.runs) : 0;
    result[`${p.name}_runs_per_spawn`] = +(p.runs / SPAWNS).toFixed(2);
  }
  result.process_sensor_bpf_ns_per_spawn = bpf.reduce((sum, p) => sum + (p.runs ? Math.round(p.ns / p.runs) : 0), 0);
  console.log(JSON.stringify(result, null, 2));
}

await main();
