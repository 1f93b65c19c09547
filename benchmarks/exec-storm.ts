// Exec storm: thousands of fork+exec of /bin/true, timed side by side in
// one run without the agent and with it, alternating rounds. Prints the
// slowdown ratio, lost events, events seen, the agent's peak RSS, and the
// records its pipeline handles per CPU-second.
//
//   node dist/benchmarks/exec-storm.js [--execs N] [--rounds R] [--warmup W]
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { median, sleep, stormRounds } from './harness.js';

const TRUE = realpathSync('/bin/true');

const { values } = parseArgs({
  options: { execs: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '3' }, warmup: { type: 'string', default: '1000' } },
});
const EXECS = Number(values.execs);
const ROUNDS = Number(values.rounds);
/** Execs run before each timed storm, with or without the agent, so its JIT is warm and both sides start alike. */
const WARMUP = Number(values.warmup);

/** One storm: a shell loop forking and execing /bin/true EXECS times; returns seconds. */
function storm(execs = EXECS): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/bin/sh', ['-c', `i=0; while [ $i -lt ${execs} ]; do ${TRUE}; i=$((i+1)); done`], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error('storm failed');
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const peakRss = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

async function main(): Promise<void> {
  storm(); // warm-up
  let lost = 0;
  let exported = 0;
  let records = 0;
  let cpu = 0;
  let peak = 0;
  const { base, withAgent } = await stormRounds({ rounds: ROUNDS, warmup: WARMUP, storm, flags: ['--export-file-max-size-mb', '0'] }, async (agent, timed) => {
    const before = agent.status();
    const cpu0 = agent.cpuSeconds();
    timed();
    await sleep(500);
    const after = agent.status();
    cpu += agent.cpuSeconds() - cpu0;
    peak = Math.max(peak, peakRss(agent.pid));
    lost += after.lost_events;
    records += after.ring_buffer.records - before.ring_buffer.records;
  }, (agent) => {
    exported += readFileSync(agent.exportFile, 'utf8').split('\n')
      .filter((l) => l.startsWith('{"process_exec"') && l.includes(`"binary":"${TRUE}"`)).length;
  });
  const ratio = median(withAgent) / median(base);
  console.log(JSON.stringify({
    execs_per_round: EXECS,
    rounds: ROUNDS,
    baseline_s: +median(base).toFixed(3),
    with_agent_s: +median(withAgent).toFixed(3),
    slowdown_pct: +((ratio - 1) * 100).toFixed(2),
    lost_events: lost,
    true_execs_exported: exported,
    true_execs_run: (EXECS + WARMUP) * ROUNDS,
    agent_peak_rss_mib: +(peak / 1048576).toFixed(1),
    ring_records: records,
    records_per_agent_cpu_second: Math.round(records / Math.max(cpu, 0.01)),
  }, null, 2));
}

await main();
