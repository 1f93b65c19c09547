// An open/close loop (benchmarks/workloads/open-close.c) timed side by side
// in one run: no monitoring; Vigil with a hook on a syscall the loop never
// makes (the cost of hooking syscalls as such); Vigil with a
// file-monitoring policy whose filter matches nothing, then one that
// matches every open; the same three through Vigil's syscall dispatcher
// (`--disable-feature`: its fallback without kprobes, fentry or syscall tracepoints);
// auditd with the equivalent rules. Rounds alternate; medians are compared.
//
//   node dist/benchmarks/open-close.js [--opens N] [--rounds R] [--no-auditd]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median, prefixPolicy as policy, programStats, startAgent, withBpfStats, workload } from './harness.js';

const { values } = parseArgs({
  options: { opens: { type: 'string', default: '500000' }, rounds: { type: 'string', default: '5' }, 'no-auditd': { type: 'boolean', default: false } },
});
const OPENS = Number(values.opens);
const ROUNDS = Number(values.rounds);
const FILE = '/etc/hostname';

async function withVigil<T>(policyText: string, fn: (agentPid: number) => T, extra: string[] = []): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-open-'));
  writeFileSync(join(dir, 'p.yaml'), policyText);
  const agent = await startAgent(['--policy', join(dir, 'p.yaml'), ...extra]);
  try {
    if (!agent.log().includes('"msg":"policy loaded"')) throw new Error(`policy did not load:\n${agent.log()}`);
    (extra.length ? fallback : picked).add(/"mechanism":"(\w+)"/.exec(agent.log())?.[1] ?? 'unknown');
    return fn(agent.pid);
  } finally {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Kernel time spent in the agent's BPF programs (tail calls included), from their fdinfo. */
function bpfRunTimeNs(pid: number): number {
  return [...programStats(pid).values()].reduce((total, p) => total + p.runTimeNs, 0);
}

/** BPF nanoseconds per open/close of one run, with kernel.bpf_stats_enabled on for it only. */
function bpfNsPerOpen(policyText: string, run: () => number, extra: string[] = []): Promise<number> {
  return withBpfStats(() => withVigil(policyText, (pid) => {
    const before = bpfRunTimeNs(pid);
    run();
    return Math.round((bpfRunTimeNs(pid) - before) / OPENS);
  }, extra));
}

/** The mechanisms the measured hooks ran on, as the agent logged them: as picked, and with features disabled. */
const picked = new Set<string>();
const fallback = new Set<string>();

function auditctl(...args: string[]): void {
  execFileSync('auditctl', args, { stdio: 'ignore' });
}

/** auditd with an openat rule; `dir` limits it to files under a directory. Auditing is on only meanwhile. */
function withAuditd<T>(dir: string | undefined, fn: () => T): T {
  auditctl('-D');
  auditctl('-b', '8192');
  auditctl('-a', 'always,exit', '-F', 'arch=b64', '-S', 'openat', ...(dir ? ['-F', `dir=${dir}`] : []), '-k', 'vigil-bench');
  auditctl('-e', '1');
  try {
    return fn();
  } finally {
    // Enabled, audit works on every syscall of every task, rules or not: the other rounds must not pay for it.
    auditctl('-e', '0');
    auditctl('-D');
  }
}

function ensureAuditd(): boolean {
  if (values['no-auditd']) return false;
  if (!existsSync('/sbin/auditctl')) {
    const r = spawnSync('bash', ['-c', 'apt-get install -y -q --no-install-recommends auditd || (apt-get update -q && apt-get install -y -q --no-install-recommends auditd)'], { stdio: 'ignore' });
    if (r.status !== 0) return false;
  }
  if (spawnSync('pgrep', ['-x', 'auditd'], { stdio: 'ignore' }).status !== 0) {
    spawnSync('auditd', [], { stdio: 'ignore' });
    process.on('exit', () => void spawnSync('pkill', ['-x', 'auditd'], { stdio: 'ignore' }));
  }
  if (spawnSync('auditctl', ['-s'], { stdio: 'ignore' }).status !== 0) return false;
  auditctl('-e', '0');
  return true;
}

async function main(): Promise<void> {
  const bin = workload('open-close');
  // On one CPU, so that the rounds do not differ by where the scheduler put the loop.
  const run = (): number => Number(execFileSync('taskset', ['-c', '0', bin, String(OPENS), FILE], { encoding: 'utf8' }));
  run();
  const auditd = ensureAuditd();
  const t: Record<string, number[]> = {
    none: [], vigil_floor: [], vigil_nomatch: [], vigil_match: [], dispatch_floor: [], dispatch_nomatch: [], dispatch_match: [], auditd_nomatch: [], auditd_match: [],
  };
  // The dispatcher: what Vigil falls back to without kprobes, fentry and syscall tracepoints.
  const onDispatcher = ['kprobes', 'fentry', 'tracepoints'].flatMap((f) => ['--disable-feature', f]);
  // auditd's dir= needs an existing directory; this one holds nothing the loop opens.
  const emptyDir = mkdtempSync(join(tmpdir(), 'vigil-bench-empty-'));
  for (let r = 0; r < ROUNDS; r++) {
    t.none.push(run());
    // The floor: a hook on a syscall the loop never makes. Without kprobes,
    // every syscall then takes the kernel's syscall tracing path (and, with
    // the dispatcher, runs its program), whatever it is.
    t.vigil_floor.push(await withVigil(policy('bench-floor', '/', 'sys_mkdirat'), run));
    t.vigil_nomatch.push(await withVigil(policy('bench-nomatch', '/nonexistent-vigil-bench/'), run));
    t.vigil_match.push(await withVigil(policy('bench-match', '/'), run));
    t.dispatch_floor.push(await withVigil(policy('bench-floor', '/', 'sys_mkdirat'), run, onDispatcher));
    t.dispatch_nomatch.push(await withVigil(policy('bench-nomatch', '/nonexistent-vigil-bench/'), run, onDispatcher));
    t.dispatch_match.push(await withVigil(policy('bench-match', '/'), run, onDispatcher));
    if (auditd) {
      t.auditd_nomatch.push(withAuditd(emptyDir, run));
      t.auditd_match.push(withAuditd(undefined, run));
    }
  }
  // Apart from the timed rounds: the stats cost two clock reads per program run.
  const nomatch = policy('bench-nomatch', '/nonexistent-vigil-bench/');
  const match = policy('bench-match', '/');
  const bpfNs = {
    floor: await bpfNsPerOpen(policy('bench-floor', '/', 'sys_mkdirat'), run),
    nomatch: await bpfNsPerOpen(nomatch, run),
    match: await bpfNsPerOpen(match, run),
    dispatchFloor: await bpfNsPerOpen(policy('bench-floor', '/', 'sys_mkdirat'), run, onDispatcher),
    dispatchNomatch: await bpfNsPerOpen(nomatch, run, onDispatcher),
    dispatchMatch: await bpfNsPerOpen(match, run, onDispatcher),
  };
  const base = median(t.none);
  const pct = (k: string): number | string => (t[k].length ? +((median(t[k]) / base - 1) * 100).toFixed(2) : 'n/a');
  console.log(JSON.stringify({
    opens_per_round: OPENS,
    rounds: ROUNDS,
    baseline_ns_per_open_close: Math.round((base / OPENS) * 1e9),
    vigil_mechanism: [...picked].join(', '),
    vigil_floor_pct: pct('vigil_floor'),
    vigil_nomatch_slowdown_pct: pct('vigil_nomatch'),
    vigil_match_all_slowdown_pct: pct('vigil_match'),
    fallback_mechanism: [...fallback].join(', '),
    fallback_floor_pct: pct('dispatch_floor'),
    fallback_nomatch_slowdown_pct: pct('dispatch_nomatch'),
    fallback_match_all_slowdown_pct: pct('dispatch_match'),
    vigil_floor_bpf_ns_per_open_close: bpfNs.floor,
    vigil_nomatch_bpf_ns_per_open_close: bpfNs.nomatch,
    vigil_match_all_bpf_ns_per_open_close: bpfNs.match,
    fallback_floor_bpf_ns_per_open_close: bpfNs.dispatchFloor,
    fallback_nomatch_bpf_ns_per_open_close: bpfNs.dispatchNomatch,
    fallback_match_all_bpf_ns_per_open_close: bpfNs.dispatchMatch,
    auditd_nomatch_slowdown_pct: auditd ? pct('auditd_nomatch') : 'auditd unavailable',
    auditd_match_all_slowdown_pct: auditd ? pct('auditd_match') : 'auditd unavailable',
  }, null, 2));
}

await main();
