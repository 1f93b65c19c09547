// What a SubString filter costs per call against a Prefix filter: sys_openat
// policies that match nothing, under the open/close loop
// (benchmarks/workloads/open-close.c) on a short path (/etc/hostname) and on
// a long one (about 1000 bytes, nested directories). Policies: Prefix with
// one value; SubString with one value; SubString and SubStringIgnCase with
// 8 values of 32 bytes (the limit), each near-missing at every position.
// Agents alternate by round; kernel.bpf_stats_enabled gives the hook
// program's run time per call.
//
//   node dist/benchmarks/substring-filter.js [--opens N] [--rounds R]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { filterPolicy as policy, median, programDelta, programStats, settle, startAgent, withBpfStats, workload } from './harness.js';

const { values } = parseArgs({ options: { opens: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } } });
const OPENS = Number(values.opens);
const ROUNDS = Number(values.rounds);

// 'a' starts every near miss: the path's directories are 'a's, so each value
// is tried past its first word at every position.
const nearMisses = Array.from({ length: 8 }, (_, i) => `${'a'.repeat(31)}${i}`);
const POLICIES: Record<string, string> = {
  prefix_1: policy('bench-prefix', 'Prefix', ['/nonexistent-vigil-bench/']),
  substring_1: policy('bench-sub1', 'SubString', ['/nonexistent-vigil-bench/']),
  substring_8x32: policy('bench-sub8', 'SubString', nearMisses),
  substring_ign_case_8x32: policy('bench-sub8i', 'SubStringIgnCase', nearMisses.map((v) => v.toUpperCase())),
};

async function main(): Promise<void> {
  const bin = workload('open-close');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-sub-'));
  const deep = join(dir, ...Array(5).fill('a'.repeat(200)));
  mkdirSync(deep, { recursive: true });
  const long = join(deep, 'f');
  writeFileSync(long, 'x');
  const paths = { short: '/etc/hostname', long };
  const run = (path: string): number => Number(execFileSync('taskset', ['-c', '0', bin, String(OPENS), path], { encoding: 'utf8' }));
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(POLICIES)) writeFileSync((files[name] = join(dir, `${name}.yaml`)), text);
  const ns: Record<string, number[]> = {};
  await withBpfStats(async () => {
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of Object.keys(POLICIES)) {
        const agent = await startAgent(['--no-export-file', '--policy', files[name]]);
        try {
          if (!agent.log().includes('"msg":"policy loaded"')) throw new Error(`${name} did not load:\n${agent.log()}`);
          await settle(agent);
          for (const [which, path] of Object.entries(paths)) {
            const before = programStats(agent.pid);
            run(path);
            const d = programDelta(before, programStats(agent.pid), 'vigil_generic_tp');
            (ns[`${name}_${which}`] ??= []).push(d.ns / Math.max(d.runs, 1));
          }
        } finally {
          await agent.stop();
        }
      }
    }
  });
  rmSync(dir, { recursive: true, force: true });
  const out: Record<string, number> = { opens_per_round: OPENS, rounds: ROUNDS, long_path_bytes: long.length };
  for (const [k, xs] of Object.entries(ns)) out[`${k}_bpf_ns_per_call`] = Math.round(median(xs));
  console.log(JSON.stringify(out, null, 2));
}

await main();
