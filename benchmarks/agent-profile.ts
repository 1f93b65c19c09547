// Where the agent's CPU goes, by stage of its data path: `vigil run` (JSON
// export file) under node --cpu-prof, with the mixed workload of
// agent-throughput.ts (posix_spawn of /bin/true and open/close of a file a
// sys_openat Prefix policy matches: exec, exit and kprobe events). Only the
// samples taken while the workload runs and the agent catches up count.
// Each sample goes to the stage of the innermost Vigil frame on its stack
// (Node's own functions count for the Vigil code that called them); GC is
// V8's "(garbage collector)" on the main thread. Beside the profile, the
// CPU of the agent's main thread and of its other threads (/proc/<pid>/task)
// in the same window: V8's helper threads collect garbage and compile
// beside the main thread (and, under --cpu-prof, the sampler is one of them).
// --threads-only runs the agent without the profiler, for the thread
// figures alone; --node-flag passes a flag to the agent's node; --keep
// keeps the profile (and the window, window.json) in DIR.
//
//   node dist/benchmarks/agent-profile.js [--iterations N] [--opens K] [--interval-us U] [--keep DIR] [--threads-only] [--node-flag F]...
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prefixPolicy, settle, startAgent, workload } from './harness.js';

const TRUE = realpathSync('/bin/true');
const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '6000' }, opens: { type: 'string', default: '2' },
    'interval-us': { type: 'string', default: '250' }, keep: { type: 'string' }, 'threads-only': { type: 'boolean', default: false },
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const ITERATIONS = Number(values.iterations);
const OPENS = Number(values.opens);

/** Stages by the path of a Vigil file under dist/; the first that matches. */
const STAGES: [RegExp, string][] = [
  [/\/agent\/(ringbuf|decode)\/|\/kernel\//, 'ring_read_decode'],
  [/\/agent\/process\/clock\.js$/, 'event_building'],
  [/\/agent\/process\//, 'process_cache'],
  [/\/agent\/enrich\//, 'event_building'],
  [/\/agent\/agent\.js$/, 'agent_dispatch'],
  [/\/exporters\/json\.js$/, 'json_serialisation'],
  [/\/exporters\//, 'export_write_path'],
];

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

/** The stage of a profile node: its own, or that of the innermost Vigil frame above it. */
function stager(profile: Profile): (id: number) => string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string>();
  const stageOf = (id: number): string => {
    let s = memo.get(id);
    if (s !== undefined) return s;
    const { functionName, url } = byId.get(id)!.callFrame;
    if (functionName === '(garbage collector)') s = 'gc';
    // (program): native code outside JS, which is mostly the wait in epoll.
    else if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') s = 'idle';
    else if (url.includes('/dist/')) s = STAGES.find(([re]) => re.test(url))?.[1] ?? 'other_vigil';
    else s = parent.has(id) ? stageOf(parent.get(id)!) : 'node_runtime';
    memo.set(id, s);
    return s;
  };
  return stageOf;
}

/** utime+stime ticks of each thread of pid, by thread id. */
function threads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch { /* the thread ended */ }
  }
  return out;
}

/** Busy time of the main thread's profile by stage, within the window: shares, and µs per event. */
function stages(profDir: string, window: [number, number], events: number): Record<string, number> {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (1: the policy checker's worker).
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile') && f.split('.')[4] === '0');
  if (!file) throw new Error(`no profile in ${profDir}`);
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile;
  // Sample i was taken at startTime + the deltas up to it; each stands for the time until the next.
  const stageOf = stager(profile);
  const us = new Map<string, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length - 1; i++) {
    t += profile.timeDeltas[i];
    if (t < window[0] || t > window[1]) continue;
    const s = stageOf(profile.samples[i]);
    us.set(s, (us.get(s) ?? 0) + profile.timeDeltas[i + 1]);
  }
  const busy = [...us].reduce((a, [k, v]) => a + (k === 'idle' ? 0 : v), 0);
  const out: Record<string, number> = { profile_busy_s: +(busy / 1e6).toFixed(2), profile_busy_us_per_event: +(busy / Math.max(events, 1)).toFixed(2) };
  for (const name of ['ring_read_decode', 'process_cache', 'event_building', 'agent_dispatch', 'json_serialisation', 'export_write_path', 'other_vigil', 'node_runtime', 'gc']) {
    const v = us.get(name) ?? 0;
    out[`${name}_pct`] = +((100 * v) / Math.max(busy, 1)).toFixed(1);
    out[`${name}_us_per_event`] = +(v / Math.max(events, 1)).toFixed(2);
  }
  return out;
}

async function main(): Promise<void> {
  const bin = workload('spawn-storm');
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-data-'));
  const policyDir = mkdtempSync(join(tmpdir(), 'vigil-bench-policy-'));
  const profDir = values.keep ?? mkdtempSync(join(tmpdir(), 'vigil-bench-prof-'));
  mkdirSync(profDir, { recursive: true });
  const policy = join(policyDir, 'opens.yaml');
  writeFileSync(policy, prefixPolicy('bench-data-opens', `${dataDir}/`));
  const run = (n: number): void => void execFileSync(bin, [String(n), TRUE, dataDir, String(OPENS)], { stdio: 'ignore' });
  const agent = await startAgent(['--export-file-max-size-mb', '0', '--policy', policy],
    values['threads-only'] ? values['node-flag'] : [...values['node-flag'], '--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${values['interval-us']}`]);
  const pid = agent.pid;
  let window: [number, number];
  let cpu: number;
  let events: number;
  let ticks: [Map<string, number>, Map<string, number>];
  try {
    run(300);
    await settle(agent);
    const lines0 = readFileSync(agent.exportFile, 'utf8').split('\n').length;
    const before = threads(agent.pid);
    const cpu0 = agent.cpuSeconds();
    const t0 = Number(process.hrtime.bigint() / 1000n);
    run(ITERATIONS);
    await settle(agent);
    window = [t0, Number(process.hrtime.bigint() / 1000n)];
    if (values.keep) writeFileSync(join(profDir, 'window.json'), JSON.stringify(window));
    cpu = agent.cpuSeconds() - cpu0;
    ticks = [before, threads(agent.pid)];
    events = readFileSync(agent.exportFile, 'utf8').split('\n').length - lines0;
  } finally {
    await agent.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(policyDir, { recursive: true, force: true });
  }
  const result: Record<string, number | string> = { iterations: ITERATIONS, opens_per_iteration: OPENS, events, agent_cpu_s: +cpu.toFixed(2) };
  result.events_per_agent_cpu_second = Math.round(events / Math.max(cpu, 0.01));
  // The main thread handles the events; the others are V8's (GC, the JIT, with --cpu-prof the sampler) and libuv's.
  const byName = new Map<string, number>();
  for (const [tid, after] of ticks[1]) {
    const name = tid === String(pid) ? 'main' : 'others';
    byName.set(name, (byName.get(name) ?? 0) + (after - (ticks[0].get(tid) ?? 0)) / 100);
  }
  for (const [name, s] of byName) if (s > 0) result[`thread_${name}_cpu_s`] = +s.toFixed(2);
  result.main_thread_us_per_event = +(((byName.get('main') ?? 0) * 1e6) / Math.max(events, 1)).toFixed(2);
  if (!values['threads-only']) Object.assign(result, stages(profDir, window, events));
  if (!values.keep) rmSync(profDir, { recursive: true, force: true });
  console.log(JSON.stringify(result, null, 2));
}

await main();
