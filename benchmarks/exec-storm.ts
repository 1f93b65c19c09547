// Exec storm: thousands of fork+exec of /bin/true, timed side by side in
// one run without the agent and with it, alternating rounds. Prints the
// slowdown ratio, lost events, events seen, the agent's peak RSS, and the
// records its pipeline handles per CPU-second. With --policy, each exec is
// followed by the shell's open of a file that a policy of the agent reports
// (a process_kprobe event), so exec, exit and policy events mix.
//
//   node dist/benchmarks/exec-storm.js [--execs N] [--rounds R] [--warmup W] [--policy]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median, sleep, stormRounds } from './harness.js';

const TRUE = realpathSync('/bin/true');

const { values } = parseArgs({
  options: {
    execs: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '3' }, warmup: { type: 'string', default: '1000' },
    policy: { type: 'boolean', default: false },
  },
});
const EXECS = Number(values.execs);
const ROUNDS = Number(values.rounds);
/** Execs run before each timed storm, with or without the agent, so its JIT is warm and both sides start alike. */
const WARMUP = Number(values.warmup);
/** With --policy: the file each iteration opens, and the policy (JSON is YAML too) that reports those opens. */
const DIR = mkdtempSync(join(tmpdir(), 'vigil-bench-watched-'));
process.on('exit', () => rmSync(DIR, { recursive: true, force: true }));
const WATCHED = values.policy ? join(DIR, 'watched') : undefined;
const POLICY_FILE = join(DIR, 'policy.yaml');
if (WATCHED) {
  writeFileSync(WATCHED, 'x\n');
  writeFileSync(POLICY_FILE, JSON.stringify({
    apiVersion: 'cilium.io/v1alpha1',
    kind: 'TracingPolicy',
    metadata: { name: 'exec-storm-opens' },
    spec: {
      kprobes: [{
        call: 'sys_openat', syscall: true, args: [{ index: 1, type: 'string' }],
        selectors: [{ matchArgs: [{ index: 1, operator: 'Equal', values: [WATCHED] }] }],
      }],
    },
  }));
}

/** One storm: a shell loop forking and execing /bin/true EXECS times; returns seconds. */
function storm(execs = EXECS): number {
  const t0 = process.hrtime.bigint();
  const body = WATCHED ? `${TRUE}; read x < ${WATCHED}` : TRUE;
  const r = spawnSync('/bin/sh', ['-c', `i=0; while [ $i -lt ${execs} ]; do ${body}; i=$((i+1)); done`], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error('storm failed');
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Events the agent emitted, by `vigil status` (procfs counts the start's, already among process_exec). */
const emitted = (status: { events: Record<string, number> }): number =>
  Object.entries(status.events).reduce((n, [k, v]) => (k === 'procfs' ? n : n + v), 0);

async function main(): Promise<void> {
  storm(); // warm-up
  let lost = 0;
  let exported = 0;
  let policyExported = 0;
  let records = 0;
  let events = 0;
  let cpu = 0;
  let peak = 0;
  const flags = ['--export-file-max-size-mb', '0', ...(WATCHED ? ['--policy', POLICY_FILE] : [])];
  const { base, withAgent } = await stormRounds({ rounds: ROUNDS, warmup: WARMUP, storm, flags }, async (agent, timed) => {
    const before = agent.status();
    const cpu0 = agent.cpuSeconds();
    timed();
    await sleep(500);
    const after = agent.status();
    cpu += agent.cpuSeconds() - cpu0;
    peak = Math.max(peak, agent.statusBytes('VmHWM'));
    lost += after.lost_events;
    records += after.ring_buffer.records - before.ring_buffer.records;
    events += emitted(after) - emitted(before);
  }, (agent) => {
    const lines = readFileSync(agent.exportFile, 'utf8').split('\n');
    exported += lines.filter((l) => l.startsWith('{"process_exec"') && l.includes(`"binary":"${TRUE}"`)).length;
    if (WATCHED) policyExported += lines.filter((l) => l.startsWith('{"process_kprobe"') && l.includes(`"string_arg":"${WATCHED}"`)).length;
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
    ...(WATCHED ? { policy_events_exported: policyExported } : {}),
    agent_peak_rss_mib: +(peak / 1048576).toFixed(1),
    ring_records: records,
    records_per_agent_cpu_second: Math.round(records / Math.max(cpu, 0.01)),
    events_per_agent_cpu_second: Math.round(events / Math.max(cpu, 0.01)),
  }, null, 2));
}

await main();
