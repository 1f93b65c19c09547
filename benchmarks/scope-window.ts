// The policy-filter race, measured: how long after a container starts does
// its pod's cgroup enter the scope of a TracingPolicyNamespaced? On the test
// cluster (test/cluster/), `vigil run --kubeconfig` with a namespaced Sigkill
// on a copy of `true`; pods of that namespace run the copy as the first
// thing their container does, then print its exit status.
//
//   node dist/benchmarks/scope-window.js [--pods 10] [--burst 5]
//
// Per pod, from the container's first exec (its shell, by the exec event's
// start_time) to: `exec`, the first exec record of the pod (its sandbox's)
// reaching the agent, which puts the pod's cgroup in scope when it is new;
// `watch`, the first time the pod watch had the pod and a walk of the
// kubelet's cgroups found its cgroup. The cgroup is in scope at the earlier
// of the two; negative figures are before the container started. `killed`:
// pods whose first command died of SIGKILL. Pods one after another, then
// `--burst` at once.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { applyPod, createNamespace, deleteNamespace, ensureCluster, kubectl, waitPodRunning, type Cluster } from '../test/lib/cluster.js';

const VIGIL = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
const { values } = parseArgs({ options: { pods: { type: 'string', default: '10' }, burst: { type: 'string', default: '5' } } });
const NS = `vigil-bench-scope-${process.pid}`;
const VDIR = `/tmp/vigil-bench-scope-${process.pid}`;
const VICTIM = `${VDIR}/true`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => void process.stderr.write(`scope-window: ${msg}\n`);

interface Row { exec: number; watch: number; in_scope: number; killed: boolean }

function pod(cluster: Cluster, name: string): object {
  const script = `mkdir -p ${VDIR}; cp /bin/busybox ${VICTIM}; ${VICTIM}; echo rc=$?; exec sleep 3600`;
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { namespace: NS, name },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: cluster.busyboxImage, imagePullPolicy: 'Never', command: ['sh', '-c', script] }] },
  };
}

/** RFC 3339 with nanoseconds to ms since the epoch, keeping the fraction. */
const ms = (t: string): number => Date.parse(t) + Number(/\.\d{3}(\d{0,6})/.exec(t)?.[1]?.padEnd(6, '0') ?? 0) / 1e6;

async function main(): Promise<void> {
  const cluster = ensureCluster();
  await createNamespace(NS);
  mkdirSync(VDIR, { recursive: true });
  copyFileSync('/bin/true', VICTIM);
  chmodSync(VICTIM, 0o755);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const socket = join(dir, 'sock');
  const exportFile = join(dir, 'events.log');
  const policy = join(dir, 'kill.yaml');
  writeFileSync(policy, stringify({
    apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicyNamespaced', metadata: { name: 'bench-scope', namespace: NS },
    spec: { kprobes: [{ call: 'sys_execve', syscall: true, args: [{ index: 0, type: 'string' }], selectors: [{ matchArgs: [{ index: 0, operator: 'Equal', values: [VICTIM] }], matchActions: [{ action: 'Sigkill' }] }] }] },
  }));
  const child = spawn(process.execPath, [VIGIL, 'run', '--output', 'none', '--export-file', exportFile, '--socket', socket, '--node-name', cluster.nodeName,
    '--kubeconfig', cluster.agentKubeconfig, '--pin-dir', `/sys/fs/bpf/vigil-bench-${process.pid}`, '--policy', policy], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const status = (): Record<string, any> => JSON.parse(spawnSync(process.execPath, [VIGIL, 'status', '--json', '--socket', socket], { encoding: 'utf8' }).stdout);
  try {
    while (!err.includes('"msg":"ready"')) {
      if (child.exitCode !== null) throw new Error(`agent failed:\n${err}`);
      await sleep(50);
    }
    for (let i = 0; i < 600 && status().kubernetes.state !== 'connected'; i++) await sleep(100);

    const measure = async (name: string): Promise<Row> => {
      const { uid } = await waitPodRunning(NS, name);
      let rc = '';
      for (let i = 0; i < 200 && !rc; i++, await sleep(100)) rc = /rc=(\d+)/.exec(kubectl(['-n', NS, 'logs', name]).stdout)?.[1] ?? '';
      let start: number | undefined;
      for (let i = 0; i < 200 && start === undefined; i++, await sleep(100)) {
        for (const line of existsSync(exportFile) ? readFileSync(exportFile, 'utf8').split('\n') : []) {
          if (!line.includes(name) || !line.includes('mkdir -p')) continue;
          const p = (JSON.parse(line) as { process_exec?: { process: { start_time: string; pod?: { name: string } } } }).process_exec?.process;
          if (p?.pod?.name === name) start = ms(p.start_time);
        }
      }
      const t = status().kubernetes.scopes.pod_timings_ms[uid] as { exec: number; watch: number };
      if (start === undefined || !t) throw new Error(`${name}: no start or no timings`);
      const row = { exec: t.exec - start, watch: t.watch - start, in_scope: Math.min(t.exec, t.watch) - start, killed: rc === '137' };
      log(`${name}: ${JSON.stringify(row)}`);
      return row;
    };
    const rows: Row[] = [];
    for (let i = 0; i < Number(values.pods); i++) {
      applyPod(pod(cluster, `seq-${i}`));
      rows.push(await measure(`seq-${i}`));
    }
    const burst = Array.from({ length: Number(values.burst) }, (_, i) => `burst-${i}`);
    for (const n of burst) applyPod(pod(cluster, n));
    for (const n of burst) rows.push(await measure(n));

    const sorted = (k: keyof Omit<Row, 'killed'>): number[] => rows.map((r) => r[k]).sort((a, b) => a - b);
    const med = (k: keyof Omit<Row, 'killed'>): number => +sorted(k)[Math.floor(rows.length / 2)].toFixed(1);
    const max = (k: keyof Omit<Row, 'killed'>): number => +sorted(k)[rows.length - 1].toFixed(1);
    process.stdout.write(`${JSON.stringify({
      pods: rows.length,
      first_command_killed: rows.filter((r) => r.killed).length,
      in_scope_before_start: rows.filter((r) => r.in_scope < 0).length,
      in_scope_ms_median: med('in_scope'), in_scope_ms_max: max('in_scope'),
      exec_ms_median: med('exec'), exec_ms_max: max('exec'),
      watch_ms_median: med('watch'), watch_ms_max: max('watch'),
    })}\n`);
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((res) => child.once('exit', res));
    deleteNamespace(NS, false);
    rmSync(VDIR, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
