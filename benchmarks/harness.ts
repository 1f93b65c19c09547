// What the agent scenarios share: `vigil run` started and stopped with its
// own socket, export file and bpffs pin directory (so it never adopts or
// prunes another agent's pins); its CPU time, RSS and status; the C
// workloads, built on first use; the kernel's run time of BPF programs
// (kernel.bpf_stats_enabled); and the one-hook Prefix policy.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const VIGIL = join(REPO, 'bin/vigil.js');
const CLK_TCK = 100;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** benchmarks/workloads/<name>.c built with the system's cc into dist/benchmarks/<name>, once. */
export function workload(name: string): string {
  const bin = join(REPO, 'dist/benchmarks', name);
  if (!existsSync(bin)) execFileSync('cc', ['-O2', '-o', bin, join(REPO, `benchmarks/workloads/${name}.c`)]);
  return bin;
}

/** A TracingPolicy with one syscall hook and one matchArgs filter on its string arg 1 (the path of openat). */
export function filterPolicy(name: string, operator: string, values: string[], call = 'sys_openat'): string {
  return `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ${name}
spec:
  kprobes:
  - call: ${call}
    syscall: true
    args:
    - index: 1
      type: string
    selectors:
    - matchArgs:
      - index: 1
        operator: ${operator}
        values: [${values.map((v) => JSON.stringify(v)).join(', ')}]
`;
}

/** A TracingPolicy with one syscall hook whose first string arg must start with prefix. */
export const prefixPolicy = (name: string, prefix: string, call = 'sys_openat'): string => filterPolicy(name, 'Prefix', [prefix], call);

/** The parts of `vigil status --json` the scenarios read. */
export interface Status {
  lost_events: number;
  ring_buffer: { records: number };
  events: Record<string, number>;
  control: { subscribers: number };
  process_cache: { size: number };
  heap_used_bytes: number;
}

export interface Agent {
  child: ChildProcess;
  pid: number;
  socket: string;
  exportFile: string;
  /** Its log (stderr) so far. */
  log: () => string;
  /** `vigil status --json`. */
  status: () => Status;
  /** User and system CPU seconds of the agent process, from /proc/<pid>/stat. */
  cpuSeconds: () => number;
  /** A memory field of /proc/<pid>/status (VmRSS, VmHWM, RssAnon…), in bytes. */
  statusBytes: (field: string) => number;
  stop: () => Promise<void>;
}

/** The agents' directories (socket, export file), removed when the scenario ends. */
const dirs: string[] = [];
process.on('exit', () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Starts `vigil run --output none`, exporting to a file of its own, then flags; resolves once it logged `ready`. nodeFlags go to node (--cpu-prof). */
export async function startAgent(flags: string[], nodeFlags: string[] = []): Promise<Agent> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  dirs.push(dir);
  const socket = join(dir, 'sock');
  const exportFile = join(dir, 'events.log');
  const pinDir = `/sys/fs/bpf/${basename(dir)}`;
  const child = spawn(process.execPath, [...nodeFlags, VIGIL, 'run', '--output', 'none', '--socket', socket, '--pin-dir', pinDir, '--export-file', exportFile, ...flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  while (!err.includes('"msg":"ready"')) {
    if (child.exitCode !== null) throw new Error(`agent failed:\n${err}`);
    await sleep(50);
  }
  const proc = (file: string): string => readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  return {
    child,
    pid: child.pid!,
    socket,
    exportFile,
    log: () => err,
    status: () => JSON.parse(spawnSync(process.execPath, [VIGIL, 'status', '--json', '--socket', socket], { encoding: 'utf8' }).stdout),
    cpuSeconds: () => {
      const f = proc('stat').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / CLK_TCK;
    },
    statusBytes: (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(proc('status'))![1]) * 1024,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(pinDir, { recursive: true, force: true });
    },
  };
}

/**
 * Rounds alternating a storm timed without the agent and with it (`vigil run`
 * with flags), each after `warmup` untimed; with the agent, `measure` runs the
 * timed storm (timed()) and reads what it wants of the agent around it, and
 * `stopped` reads what the agent left once it stopped (its export file).
 * Returns the seconds of each timed storm.
 */
export async function stormRounds(o: { rounds: number; warmup: number; storm: (n?: number) => number; flags: string[] },
  measure: (agent: Agent, timed: () => void) => Promise<void>, stopped: (agent: Agent) => void): Promise<{ base: number[]; withAgent: number[] }> {
  const base: number[] = [];
  const withAgent: number[] = [];
  // Rounds alternate, so drift on the machine hits both sides alike.
  for (let r = 0; r < o.rounds; r++) {
    o.storm(o.warmup);
    base.push(o.storm());
    const agent = await startAgent(o.flags);
    try {
      o.storm(o.warmup);
      await sleep(300);
      await measure(agent, () => void withAgent.push(o.storm()));
    } finally {
      await agent.stop();
    }
    stopped(agent);
  }
  return { base, withAgent };
}

/** Waits (10 s at most) until the agent has used no CPU for quietMs: it has handled what the workload made. */
export async function settle(agent: Agent, quietMs = 400): Promise<void> {
  let last = agent.cpuSeconds();
  for (const end = Date.now() + 10_000; Date.now() < end;) {
    await sleep(quietMs);
    const now = agent.cpuSeconds();
    if (now === last) return;
    last = now;
  }
}

export interface ProgramStats {
  name: string;
  runTimeNs: number;
  runCount: number;
}

/**
 * The BPF programs a process holds, by program id: their name (from
 * bpftool) and the kernel's run time and run count, counted while
 * kernel.bpf_stats_enabled is on (a tail call's time is its caller's).
 */
export function programStats(pid: number): Map<number, ProgramStats> {
  const stats = new Map<number, ProgramStats>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== 'anon_inode:bpf-prog') continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(info)?.[1] ?? 0);
    stats.set(field('prog_id'), { name: '', runTimeNs: field('run_time_ns'), runCount: field('run_cnt') });
  }
  const shown = JSON.parse(execFileSync('bpftool', ['--json', 'prog', 'show'], { encoding: 'utf8' })) as { id: number; name: string }[];
  for (const p of shown) {
    const s = stats.get(p.id);
    if (s) s.name = p.name;
  }
  return stats;
}

/** Run time and runs of the programs named `name` between two programStats() readings, and how many programs have that name. */
export function programDelta(before: Map<number, ProgramStats>, after: Map<number, ProgramStats>, name: string): { ns: number; runs: number; programs: number } {
  let ns = 0;
  let runs = 0;
  let programs = 0;
  for (const [id, s] of after) {
    if (s.name !== name) continue;
    ns += s.runTimeNs - (before.get(id)?.runTimeNs ?? 0);
    runs += s.runCount - (before.get(id)?.runCount ?? 0);
    programs++;
  }
  return { ns, runs, programs };
}

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** Runs fn with kernel.bpf_stats_enabled on, then puts back the value it had. */
export async function withBpfStats<T>(fn: () => Promise<T> | T): Promise<T> {
  const was = readFileSync(BPF_STATS, 'utf8').trim();
  execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
  try {
    return await fn();
  } finally {
    execFileSync('sysctl', ['-q', '-w', `kernel.bpf_stats_enabled=${was}`]);
  }
}
