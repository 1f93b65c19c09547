// Kubernetes enrichment on the test cluster (test/cluster/): an exec storm
// inside a pod's container, rounds alternating between `vigil run --no-k8s`
// (container ID in `docker` only) and `vigil run --kubeconfig …` (Tetragon's
// `pod` on every event); then the agent's memory with 100 Pod objects on the
// node: a few running busybox pods, the rest Pod objects bound to the node
// (spec.nodeName) whose containers never start (they ask for more memory
// than the node has: the kubelet rejects them, OutOfmemory, and makes no
// sandbox), so the API serves 100 pods for the node without 100 sandboxes.
//
//   node dist/benchmarks/k8s-enrich.js [--execs N] [--rounds R] [--running N] [--pods N]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  applyPod, busyboxPod, createNamespace, deleteNamespace, ensureCluster, RUN_DIR, waitPodRunning, type Cluster,
} from '../test/lib/cluster.js';

const VIGIL = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLK_TCK = 100;

const { values } = parseArgs({
  options: {
    execs: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '3' }, warmup: { type: 'string', default: '500' },
    running: { type: 'string', default: '5' }, pods: { type: 'string', default: '100' },
  },
});
const EXECS = Number(values.execs);
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);
const RUNNING = Number(values.running);
const PODS = Number(values.pods);
const NS = `vigil-bench-${process.pid}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => void process.stderr.write(`k8s-enrich: ${msg}\n`);

interface Agent {
  pid: number;
  exportFile: string;
  status: () => Record<string, any>;
  cpuSeconds: () => number;
  rss: () => { rss: number; hwm: number; heap: number };
  stop: () => Promise<void>;
}

async function startAgent(cluster: Cluster, k8s: boolean): Promise<Agent> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const socket = join(dir, 'sock');
  const exportFile = join(dir, 'events.log');
  const args = [VIGIL, 'run', '--output', 'none', '--export-file', exportFile, '--export-file-max-size-mb', '0', '--socket', socket, '--node-name', cluster.nodeName,
    ...(k8s ? ['--kubeconfig', cluster.agentKubeconfig] : ['--no-k8s'])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  while (!err.includes('"msg":"ready"')) {
    if (child.exitCode !== null) throw new Error(`agent failed:\n${err}`);
    await sleep(50);
  }
  // The agent may be slow to answer while a storm runs on a busy machine: a few tries.
  const status = (): Record<string, any> => {
    for (let i = 0; ; i++) {
      const r = spawnSync(process.execPath, [VIGIL, 'status', '--json', '--socket', socket], { encoding: 'utf8' });
      if (r.status === 0 && r.stdout) return JSON.parse(r.stdout);
      if (i === 4) throw new Error(`vigil status failed (exit ${r.status}): ${r.stderr}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  };
  if (k8s) for (let i = 0; i < 600 && status().kubernetes.state !== 'connected'; i++) await sleep(100);
  const procStat = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
  return {
    pid: child.pid!,
    exportFile,
    status,
    cpuSeconds: () => {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / CLK_TCK;
    },
    rss: () => ({ rss: procStat('VmRSS'), hwm: procStat('VmHWM'), heap: status().heap_used_bytes }),
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((res) => child.once('exit', res));
    },
  };
}

/** N execs of /bin/true [arg] by a shell loop inside the container, through containerd; returns seconds. */
function storm(cluster: Cluster, containerId: string, n: number, arg = ''): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ctr', ['-a', cluster.containerdSock, '-n', 'k8s.io', 'tasks', 'exec', '--exec-id', `storm-${Date.now()}`, containerId,
    '/bin/sh', '-c', `i=0; while [ $i -lt ${n} ]; do /bin/true ${arg}; i=$((i+1)); done`], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`storm failed (ctr exit ${r.status}, ${r.signal ?? 'no signal'}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface Round { storm_s: number; cpu_s: number; records: number; execs: number; with_pod: number }

async function round(cluster: Cluster, containerId: string, k8s: boolean): Promise<Round> {
  const agent = await startAgent(cluster, k8s);
  storm(cluster, containerId, WARMUP, 'warmup');
  await sleep(500);
  const before = agent.status();
  const cpu0 = agent.cpuSeconds();
  const s = storm(cluster, containerId, EXECS);
  await sleep(1000);
  const after = agent.status();
  const cpu = agent.cpuSeconds() - cpu0;
  await agent.stop();
  const docker = `"docker":"${containerId.slice(0, 31)}"`;
  // /bin/true is busybox in the image: the binary the kernel ran is /bin/busybox; the measured storm's have no arguments.
  const lines = readFileSync(agent.exportFile, 'utf8').split('\n')
    .filter((l) => l.startsWith('{"process_exec"') && l.includes(docker) && l.includes('"binary":"/bin/busybox","arguments":""'));
  return {
    storm_s: s, cpu_s: cpu, records: after.ring_buffer.records - before.ring_buffer.records,
    execs: lines.length, with_pod: lines.filter((l) => JSON.parse(l).process_exec.process.pod?.name === 'storm').length,
  };
}

/** A Pod object bound to the node that the kubelet rejects: no sandbox, no container. */
function fillerPod(cluster: Cluster, i: number): object {
  const pod = busyboxPod(NS, `filler-${i}`) as { metadata: Record<string, unknown>; spec: Record<string, any> };
  pod.metadata.labels = { app: 'filler', index: String(i), tier: 'bench' };
  pod.spec.nodeName = cluster.nodeName;
  pod.spec.containers[0].resources = { requests: { memory: '1000Gi' } };
  return pod;
}

async function memory(cluster: Cluster): Promise<Record<string, number>> {
  const settle = async (a: Agent): Promise<{ rss: number; hwm: number; heap: number }> => {
    await sleep(10_000);
    return a.rss();
  };
  const off = await startAgent(cluster, false);
  const offRss = await settle(off);
  await off.stop();
  const few = await startAgent(cluster, true);
  const fewRss = await settle(few);
  const fewPods = few.status().kubernetes.pods;
  log(`creating ${PODS - RUNNING - 1} more Pod objects`);
  for (let i = RUNNING + 1; i < PODS; i++) applyPod(fillerPod(cluster, i));
  for (let i = 0; i < 600 && few.status().kubernetes.pods < PODS; i++) await sleep(250);
  const manyPods = few.status().kubernetes.pods;
  const manyRss = await settle(few);
  await few.stop();
  const cold = await startAgent(cluster, true);
  const coldRss = await settle(cold);
  const coldPods = cold.status().kubernetes.pods;
  await cold.stop();
  const mib = (b: number): number => +(b / 1048576).toFixed(1);
  return {
    rss_mib_no_k8s: mib(offRss.rss),
    heap_used_mib_no_k8s: mib(offRss.heap),
    [`rss_mib_k8s_${fewPods}_pods`]: mib(fewRss.rss),
    [`heap_used_mib_k8s_${fewPods}_pods`]: mib(fewRss.heap),
    [`rss_mib_k8s_${manyPods}_pods_added_while_running`]: mib(manyRss.rss),
    [`heap_used_mib_k8s_${manyPods}_pods_added_while_running`]: mib(manyRss.heap),
    [`rss_mib_k8s_started_with_${coldPods}_pods`]: mib(coldRss.rss),
    [`heap_used_mib_k8s_started_with_${coldPods}_pods`]: mib(coldRss.heap),
    [`peak_rss_mib_k8s_started_with_${coldPods}_pods`]: mib(coldRss.hwm),
    pods_running: RUNNING + 1,
    pods_rejected_by_kubelet: manyPods - RUNNING - 1,
  };
}

async function main(): Promise<void> {
  const wasUp = existsSync(join(RUN_DIR, 'env'));
  const cluster = ensureCluster();
  try {
    await createNamespace(NS);
    applyPod(busyboxPod(NS, 'storm'));
    for (let i = 0; i < RUNNING; i++) applyPod(busyboxPod(NS, `running-${i}`));
    const storming = await waitPodRunning(NS, 'storm', 180_000);
    for (let i = 0; i < RUNNING; i++) await waitPodRunning(NS, `running-${i}`, 180_000);
    const id = storming.containers[0].id;
    const off: Round[] = [];
    const on: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      log(`round ${r + 1}/${ROUNDS}`);
      off.push(await round(cluster, id, false));
      on.push(await round(cluster, id, true));
    }
    // Totals over the rounds: CPU ticks are 10 ms, and the machine's noise shows less in sums than in per-round ratios.
    const sum = (rs: Round[], k: keyof Round): number => rs.reduce((n, x) => n + x[k], 0);
    const perCpu = (rs: Round[]): number => Math.round(sum(rs, 'records') / Math.max(sum(rs, 'cpu_s'), 0.01));
    const mem = await memory(cluster);
    const perStorm = (rs: Round[]): number => Math.round((EXECS * rs.length) / sum(rs, 'storm_s'));
    console.log(JSON.stringify({
      execs_per_round: EXECS,
      rounds: ROUNDS,
      container_execs_per_s_no_k8s: perStorm(off),
      container_execs_per_s_k8s: perStorm(on),
      agent_cpu_s_no_k8s: +sum(off, 'cpu_s').toFixed(2),
      agent_cpu_s_k8s: +sum(on, 'cpu_s').toFixed(2),
      ring_records_no_k8s: sum(off, 'records'),
      ring_records_k8s: sum(on, 'records'),
      events_per_agent_cpu_second_no_k8s: perCpu(off),
      events_per_agent_cpu_second_k8s: perCpu(on),
      enrichment_throughput_ratio: +(perCpu(on) / perCpu(off)).toFixed(3),
      container_execs_exported_no_k8s: sum(off, 'execs'),
      container_execs_exported_k8s: sum(on, 'execs'),
      container_execs_with_pod_k8s: sum(on, 'with_pod'),
      container_execs_run: EXECS * ROUNDS,
      ...mem,
    }, null, 2));
  } finally {
    deleteNamespace(NS, true);
    if (!wasUp) spawnSync('bash', [join(REPO, 'test/cluster/down.sh')], { stdio: 'ignore' });
  }
}

await main();
