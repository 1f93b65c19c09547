// End to end: events the agent handles per CPU-second of its own, under a
// mixed workload (benchmarks/workloads/spawn-storm.c: posix_spawn of
// /bin/true, each followed by open/close of a file in a directory that a
// sys_openat Prefix policy matches: exec, exit and kprobe events). Agents
// alternate by round between three outputs: the JSON export file; the same
// with a live `vigil events` subscriber; no output (--no-export-file), the
// floor. CPU is the agent process's utime+stime (/proc/<pid>/stat) from
// before the workload until it is idle again; events are the lines added
// to the export file (with no output, the events the agent counted).
//
//   node dist/benchmarks/agent-throughput.js [--iterations N] [--opens K] [--rounds R]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VIGIL, prefixPolicy, settle, sleep, startAgent, workload, type Agent } from './harness.js';

const TRUE = realpathSync('/bin/true');
const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '3000' }, opens: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } },
});
const ITERATIONS = Number(values.iterations);
const OPENS = Number(values.opens);
const ROUNDS = Number(values.rounds);

interface Mode { name: string; flags: string[]; subscriber: boolean }
const MODES: Mode[] = [
  { name: 'json_file', flags: ['--export-file-max-size-mb', '0'], subscriber: false },
  { name: 'json_file_subscriber', flags: ['--export-file-max-size-mb', '0'], subscriber: true },
  { name: 'no_output', flags: ['--no-export-file'], subscriber: false },
];

const bin = workload('spawn-storm');
const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-data-'));
const run = (n: number): void => void execFileSync(bin, [String(n), TRUE, dataDir, String(OPENS)], { stdio: 'ignore' });

/** Export file lines by event type (process_exec, process_kprobe, ...). */
function exported(file: string): Map<string, number> {
  const out = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{"')) continue;
    const type = line.slice(2, line.indexOf('"', 2));
    out.set(type, (out.get(type) ?? 0) + 1);
  }
  return out;
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
/** Events the agent made so far, by its status (procfs: process_exec events of processes found at start, counted twice). */
const counted = (agent: Agent): number => Object.entries(agent.status().events).reduce((a, [k, v]) => a + (k === 'procfs' ? 0 : v), 0);

/** A `vigil events -o json` client; resolves once the agent counts it as a subscriber. */
async function subscribe(agent: Agent): Promise<{ lines: () => number; stop: () => void }> {
  const child = spawn(process.execPath, [VIGIL, 'events', '-o', 'json', '--socket', agent.socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  let lines = 0;
  child.stdout!.on('data', (d: Buffer) => {
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
  });
  while (agent.status().control.subscribers < 1) await sleep(100);
  return { lines: () => lines, stop: () => void child.kill() };
}

async function round(mode: Mode, policy: string): Promise<{ events: number; cpu: number; streamed: number; mix: Map<string, number> }> {
  const agent = await startAgent([...mode.flags, '--policy', policy]);
  const sub = mode.subscriber ? await subscribe(agent) : undefined;
  try {
    run(300);
    await settle(agent);
    const [file0, count0, lines0, cpu0] = [exported(agent.exportFile), counted(agent), sub?.lines() ?? 0, agent.cpuSeconds()];
    run(ITERATIONS);
    await settle(agent);
    const cpu = agent.cpuSeconds() - cpu0;
    const file = exported(agent.exportFile);
    const mix = new Map([...file].map(([k, v]) => [k, v - (file0.get(k) ?? 0)]));
    const events = mode.flags.includes('--no-export-file') ? counted(agent) - count0 : total(mix);
    return { events, cpu, streamed: (sub?.lines() ?? 0) - lines0, mix };
  } finally {
    sub?.stop();
    await agent.stop();
  }
}

async function main(): Promise<void> {
  const policyDir = mkdtempSync(join(tmpdir(), 'vigil-bench-policy-'));
  const policy = join(policyDir, 'opens.yaml');
  writeFileSync(policy, prefixPolicy('bench-data-opens', `${dataDir}/`));
  run(300);
  const sums = new Map(MODES.map((m) => [m.name, { events: 0, cpu: 0, streamed: 0 }]));
  let mix = new Map<string, number>();
  // Rounds alternate, so drift on the machine hits every output alike.
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of MODES) {
      const got = await round(mode, policy);
      const s = sums.get(mode.name)!;
      s.events += got.events;
      s.cpu += got.cpu;
      s.streamed += got.streamed;
      if (mode.name === 'json_file') mix = got.mix;
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(policyDir, { recursive: true, force: true });
  const result: Record<string, number | string> = {
    iterations_per_round: ITERATIONS,
    opens_per_iteration: OPENS,
    rounds: ROUNDS,
    event_mix_last_json_file_round: [...mix].filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', '),
  };
  const usPerEvent = new Map<string, number>();
  for (const [name, s] of sums) {
    result[`${name}_events`] = s.events;
    result[`${name}_agent_cpu_s`] = +s.cpu.toFixed(2);
    result[`${name}_events_per_agent_cpu_second`] = Math.round(s.events / Math.max(s.cpu, 0.01));
    usPerEvent.set(name, (s.cpu / Math.max(s.events, 1)) * 1e6);
  }
  result.json_file_subscriber_events_streamed = sums.get('json_file_subscriber')!.streamed;
  // What each path adds, in agent CPU per event.
  result.export_file_us_per_event = +(usPerEvent.get('json_file')! - usPerEvent.get('no_output')!).toFixed(1);
  result.subscriber_us_per_event = +(usPerEvent.get('json_file_subscriber')! - usPerEvent.get('json_file')!).toFixed(1);
  console.log(JSON.stringify(result, null, 2));
}

await main();
