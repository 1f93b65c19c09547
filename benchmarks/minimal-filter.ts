// Vigil's sys_openat Prefix filter against the least such a filter does:
// kprobes/reference/minimal-filter.bpf.c (built here with clang, loaded
// and attached to syscalls/sys_enter_openat through Vigil's own libbpf
// binding) reads the path, looks it up in an LPM trie of prefixes and
// counts a match. Both hold the same prefix, which the open/close loop
// (benchmarks/workloads/open-close.c) never matches; rounds alternate: no
// filter, the minimal filter, `vigil run` with the equivalent policy.
// kernel.bpf_stats_enabled is on throughout: each program's run time per
// call, and the loop's time per open/close (the stats' clock reads in it).
//
//   node dist/benchmarks/minimal-filter.js [--opens N] [--rounds R]
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfObject } from '../kernel/bpf/object.js';
import { REPO, median, prefixPolicy, programDelta, programStats, settle, startAgent, withBpfStats, workload } from './harness.js';

const { values } = parseArgs({ options: { opens: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const OPENS = Number(values.opens);
const ROUNDS = Number(values.rounds);
const FILE = '/etc/hostname';
const PREFIX = '/nonexistent-vigil-bench/';

function buildFilter(): string {
  const obj = join(REPO, 'dist/benchmarks/minimal-filter.bpf.o');
  if (existsSync(obj)) return obj;
  // <asm/types.h> and the like live in the multiarch include directory.
  const multiarch = execFileSync('cc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-Wall', '-Werror', '-I', `/usr/include/${multiarch}`,
    '-c', join(REPO, 'kprobes/reference/minimal-filter.bpf.c'), '-o', obj]);
  return obj;
}

/** The minimal filter loaded with `prefix` in its trie and attached; close() detaches it. */
function attachFilter(path: string, prefix: string): BpfObject {
  const obj = BpfObject.open(path).load();
  const key = Buffer.alloc(4 + 256);
  key.writeUInt32LE(8 * prefix.length, 0);
  key.write(prefix, 4);
  obj.map('prefixes').update(key, Buffer.from([1]));
  return obj.attachTracepoint('minimal_filter', 'syscalls', 'sys_enter_openat');
}

/** Checks that the filter counts the opens its prefix matches (they fail: nothing is there). */
function checkFilter(path: string): void {
  const obj = attachFilter(path, PREFIX);
  try {
    for (let i = 0; i < 10; i++) {
      try {
        closeSync(openSync(`${PREFIX}probe`, 'r'));
      } catch { /* ENOENT */ }
    }
    const count = obj.map('matches').lookup(Buffer.alloc(4))!.readBigUInt64LE(0);
    if (count < 10n) throw new Error(`the minimal filter counted ${count} of 10 matching opens`);
  } finally {
    obj.close();
  }
}

async function main(): Promise<void> {
  const bin = workload('open-close');
  const filter = buildFilter();
  // On one CPU, so that the rounds do not differ by where the scheduler put the loop.
  const run = (): number => Number(execFileSync('taskset', ['-c', '0', bin, String(OPENS), FILE], { encoding: 'utf8' }));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-policy-'));
  const policy = join(dir, 'nomatch.yaml');
  writeFileSync(policy, prefixPolicy('bench-nomatch', PREFIX));
  checkFilter(filter);
  run();
  const t: Record<'none' | 'minimal' | 'vigil', number[]> = { none: [], minimal: [], vigil: [] };
  const ns: Record<'minimal' | 'vigil', number[]> = { minimal: [], vigil: [] };
  /** Runs the loop once; the named programs' run time per call. */
  const measure = (pid: number, name: string, times: number[]): number => {
    const before = programStats(pid);
    times.push(run());
    const d = programDelta(before, programStats(pid), name);
    return d.ns / Math.max(d.runs, 1);
  };
  await withBpfStats(async () => {
    for (let r = 0; r < ROUNDS; r++) {
      t.none.push(run());
      const obj = attachFilter(filter, PREFIX);
      try {
        ns.minimal.push(measure(process.pid, 'minimal_filter', t.minimal));
      } finally {
        obj.close();
      }
      const agent = await startAgent(['--no-export-file', '--policy', policy]);
      try {
        if (!agent.log().includes('"msg":"policy loaded"')) throw new Error(`policy did not load:\n${agent.log()}`);
        await settle(agent);
        ns.vigil.push(measure(agent.pid, 'vigil_generic_tp', t.vigil));
      } finally {
        await agent.stop();
      }
    }
  });
  rmSync(dir, { recursive: true, force: true });
  const perOpen = (xs: number[]): number => Math.round((median(xs) / OPENS) * 1e9);
  console.log(JSON.stringify({
    opens_per_round: OPENS,
    rounds: ROUNDS,
    minimal_bpf_ns_per_call: Math.round(median(ns.minimal)),
    vigil_bpf_ns_per_call: Math.round(median(ns.vigil)),
    vigil_to_minimal_ratio: +(median(ns.vigil) / median(ns.minimal)).toFixed(2),
    baseline_ns_per_open_close: perOpen(t.none),
    minimal_ns_per_open_close: perOpen(t.minimal),
    vigil_ns_per_open_close: perOpen(t.vigil),
  }, null, 2));
}

await main();
