// The agent's memory with many live processes in its process cache:
// benchmarks/workloads/hold-processes.c keeps N processes alive, each its
// own exec with its own arguments. Side by side in one run: an agent
// idle on a fresh start; the same agent once the N processes exec'd while
// it ran (cached from their exec events); a second agent started while
// they live (cached from /proc at its start); both again once the
// processes are gone. Memory is read once the agent has been quiet for
// 20 s: V8's memory reducer collects what a burst left after about 10 s
// without allocation (5 s after a burst of 10,000 /proc reads, RSS was
// still 8 MiB above what it settled at). RSS counts the
// node binary's pages and the ring buffer, which the kernel maps twice (its
// data pages follow themselves, so a record never wraps): `anon` is the
// agent's own memory, `heap_used` the live JavaScript objects in it.
//
//   node dist/benchmarks/process-cache-rss.js [--processes N]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { settle, sleep, startAgent, workload, type Agent } from './harness.js';

const { values } = parseArgs({ options: { processes: { type: 'string', default: '10000' } } });
const N = Number(values.processes);
const MIB = 2 ** 20;

const mib = (bytes: number): number => +(bytes / MIB).toFixed(1);

interface Memory {
  rss_mib: number;
  anon_mib: number;
  heap_used_mib: number;
  peak_rss_mib: number;
  cache_size: number;
}

/** The agent's memory once it has been quiet, then 20 s more. */
async function quietMemory(agent: Agent): Promise<Memory> {
  await settle(agent);
  await sleep(20_000);
  const s = agent.status();
  return {
    rss_mib: mib(agent.statusBytes('VmRSS')), anon_mib: mib(agent.statusBytes('RssAnon')), heap_used_mib: mib(s.heap_used_bytes),
    peak_rss_mib: mib(agent.statusBytes('VmHWM')), cache_size: s.process_cache.size,
  };
}

const prefixed = (prefix: string, m: Memory): Record<string, number> => Object.fromEntries(Object.entries(m).map(([k, v]) => [`${prefix}_${k}`, v]));

/** Starts N held processes; resolves with a function that ends them, once all have exec'd. */
async function hold(n: number): Promise<() => Promise<void>> {
  const child = spawn(workload('hold-processes'), [String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  while (!out.includes('ready')) {
    if (child.exitCode !== null) throw new Error('hold-processes failed');
    await sleep(100);
  }
  if (out.trim() !== `ready ${n}`) throw new Error(`hold-processes: ${out.trim()}`);
  return async () => {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
  };
}

async function main(): Promise<void> {
  const agents: Agent[] = [];
  let release: (() => Promise<void>) | undefined;
  try {
    const fromExecs = await startAgent([]);
    agents.push(fromExecs);
    const idle = await quietMemory(fromExecs);
    release = await hold(N);
    const execs = await quietMemory(fromExecs);
    const t0 = Date.now();
    const fromProcfs = await startAgent([]);
    const procfsReadyMs = Date.now() - t0;
    agents.push(fromProcfs);
    const procfs = await quietMemory(fromProcfs);
    await release();
    release = undefined;
    const execsAfter = await quietMemory(fromExecs);
    const procfsAfter = await quietMemory(fromProcfs);
    console.log(JSON.stringify({
      processes_held: N,
      ...prefixed('idle', idle),
      ...prefixed('from_execs', execs),
      from_execs_kib_per_process: +(((execs.rss_mib - idle.rss_mib) * 1024) / N).toFixed(2),
      ...prefixed('from_procfs', procfs),
      from_procfs_start_to_ready_ms: procfsReadyMs,
      from_execs_after_exit_rss_mib: execsAfter.rss_mib,
      from_execs_after_exit_cache_size: execsAfter.cache_size,
      from_procfs_after_exit_rss_mib: procfsAfter.rss_mib,
      from_procfs_after_exit_cache_size: procfsAfter.cache_size,
    }, null, 2));
  } finally {
    await release?.();
    for (const a of agents) await a.stop();
  }
}

await main();
