// Policies limited to pods on a real cluster: a TracingPolicyNamespaced
// with Sigkill on a binary kills it in a pod of its namespace, from the
// container's very first command on, and never in a pod of another
// namespace or on the host; a podSelector app=web policy reports only for
// the labelled pod, and relabelling the pod moves it out; one applied with
// kubectl is in force the same way, and kubectl delete lifts it. The window
// between a container's start and its pod's cgroup entering the scope is
// measured (docs/benchmarks.md).
import t from 'tap';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  applyPod, createNamespace, deleteNamespace, ensureCluster, kubectl, kubectlOk, waitPodRunning, type Cluster,
} from './lib/cluster.js';
import { runCommand, startAgent, VIGIL, type AgentHandle } from './lib/agent.js';
import { lacking, SLOWDOWN } from './lib/kernel.js';
import { applyCrds } from './lib/k8s-policies.js';
import type { TetragonEvent, TetragonProcess } from '../exporters/tetragon.js';

const skip = await lacking(['cgroup_scope', 'bpf_send_signal']);
const A = `vigil-scope-a-${process.pid}`;
const B = `vigil-scope-b-${process.pid}`;
/** The same path on the host and in the pods: a copy of `true` (busybox's applet in a pod, by its name). */
const VDIR = `/tmp/vigil-scope-${process.pid}`;
const VICTIM = `${VDIR}/true`;
const REPORTED = `${VDIR}/report/true`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let cluster: Cluster;
let agent: AgentHandle;
const dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-scope-'));

/** A busybox pod whose first command runs the victim, prints its exit code, then sleeps. */
function victimPod(namespace: string, name: string, labels: Record<string, string> = {}): object {
  const script = `mkdir -p ${VDIR}/report; cp /bin/busybox ${VICTIM}; cp /bin/busybox ${REPORTED}; ${VICTIM}; echo rc=$?; exec sleep 3600`;
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, labels },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: cluster.busyboxImage, imagePullPolicy: 'Never', command: ['sh', '-c', script] }],
    },
  };
}

async function statusJson(): Promise<Record<string, any>> {
  const r = await runCommand(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket]);
  return JSON.parse(r.stdout);
}

async function policyList(): Promise<Record<string, any>[]> {
  const r = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', agent.socket]);
  return JSON.parse(r.stdout);
}

/** The first line of the pod's log that says rc=N. */
async function firstRc(namespace: string, name: string): Promise<string> {
  for (let i = 0; i < 80 * SLOWDOWN; i++, await sleep(250)) {
    const m = /rc=(\d+)/.exec(kubectl(['-n', namespace, 'logs', name]).stdout);
    if (m) return m[1];
  }
  return 'no rc in the log';
}

/** Exit code of a command run in the pod with kubectl exec. */
const execIn = (namespace: string, name: string, cmd: string[]): number | null =>
  kubectl(['-n', namespace, 'exec', name, '--', ...cmd]).status;

const policy = (kind: string, name: string, namespace: string | undefined, spec: object): string => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({ apiVersion: 'cilium.io/v1alpha1', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, spec }));
  return file;
};
const execArg = (path: string, actions: object[]): object => ({
  kprobes: [{
    call: 'sys_execve', syscall: true, args: [{ index: 0, type: 'string' }],
    selectors: [{ matchArgs: [{ index: 0, operator: 'Equal', values: [path] }], matchActions: actions }],
  }],
});

t.before(async () => {
  if (skip) return;
  cluster = ensureCluster();
  await createNamespace(A);
  await createNamespace(B);
  mkdirSync(join(VDIR, 'report'), { recursive: true });
  copyFileSync(realpathSync('/bin/true'), VICTIM);
  chmodSync(VICTIM, 0o755);
  const kill = policy('TracingPolicyNamespaced', 'scope-kill', A, execArg(VICTIM, [{ action: 'Sigkill' }]));
  const web = policy('TracingPolicy', 'scope-web', undefined, { podSelector: { matchLabels: { app: 'web' } }, ...execArg(REPORTED, []) });
  agent = await startAgent(['--kubeconfig', cluster.agentKubeconfig, '--node-name', cluster.nodeName, '--no-k8s-policies', '--policy', kill, '--policy', web]);
});

t.teardown(async () => {
  await agent?.stop();
  if (!skip) {
    deleteNamespace(A, false);
    deleteNamespace(B, false);
  }
  rmSync(VDIR, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

t.test('a namespaced Sigkill policy kills in a pod of its namespace from the container\'s first command, not elsewhere', { skip }, async (t) => {
  const [list] = [await policyList()];
  t.match(list.find((p) => p.name === 'scope-kill'), { state: 'loaded', scope: { namespace: A, level: 'pod' } });

  applyPod(victimPod(A, 'victim'));
  applyPod(victimPod(B, 'victim'));
  await waitPodRunning(A, 'victim');
  await waitPodRunning(B, 'victim');
  t.equal(await firstRc(A, 'victim'), '137', 'in namespace A, the container\'s first command dies of SIGKILL (128 + 9)');
  t.equal(await firstRc(B, 'victim'), '0', 'in namespace B, it runs');
  t.equal(execIn(A, 'victim', [VICTIM]), 137, 'kubectl exec in A: killed');
  t.equal(execIn(B, 'victim', [VICTIM]), 0, 'kubectl exec in B: runs');
  const host = await runCommand(VICTIM, []);
  t.same([host.code, host.signal], [0, null], 'on the host: runs');
  t.match((await policyList()).find((p) => p.name === 'scope-kill'), { scope: { cgroups: 1, known: true } }, 'one pod cgroup in scope');

  const del = await runCommand(process.execPath, [VIGIL, 'policy', 'delete', 'scope-kill', '--socket', agent.socket]);
  t.equal(del.code, 0);
  t.equal(execIn(A, 'victim', [VICTIM]), 0, 'the policy deleted, the binary runs in A');
});

t.test('a podSelector app=web policy reports only for the labelled pod; a relabel moves the pod out', { skip }, async (t) => {
  applyPod(victimPod(B, 'web', { app: 'web' }));
  applyPod(victimPod(B, 'db', { app: 'db' }));
  const web = await waitPodRunning(B, 'web');
  await waitPodRunning(B, 'db');
  const reported = (pod: string) => (e: TetragonEvent): boolean => {
    const body = e.process_kprobe ?? e.process_tracepoint;
    const proc = body?.process as TetragonProcess | undefined;
    return body?.policy_name === 'scope-web' && proc?.pod?.name === pod && proc.pod.namespace === B;
  };
  // From the container's shell, which carries the pod (runc's own exec of a kubectl exec does not).
  const report = ['sh', '-c', `${REPORTED}; true`];
  t.equal(execIn(B, 'web', report), 0);
  t.equal(execIn(B, 'db', report), 0);
  const ev = await agent.waitFor(reported('web'), 'the report of the web pod', 30_000 * SLOWDOWN).catch((err: Error) => {
    const seen = agent.events().filter((e) => (e.process_kprobe ?? e.process_tracepoint)?.policy_name === 'scope-web');
    throw new Error(`${err.message}; scope-web events: ${JSON.stringify(seen).slice(0, 3000)}`);
  });
  t.equal(((ev.process_kprobe ?? ev.process_tracepoint)!.process as TetragonProcess).pod?.uid, web.uid);
  await sleep(1000);
  t.notOk(agent.events().some(reported('db')), 'none for the db pod');

  kubectlOk(['-n', B, 'label', 'pod', 'web', 'app=old', '--overwrite']);
  let cgroups = -1;
  for (let i = 0; i < 40 * SLOWDOWN && cgroups !== 0; i++, await sleep(250)) {
    cgroups = (await policyList()).find((p) => p.name === 'scope-web')?.scope?.cgroups;
  }
  t.equal(cgroups, 0, 'relabelled, the pod leaves the scope');
  const before = agent.events().filter(reported('web')).length;
  t.equal(execIn(B, 'web', report), 0);
  await sleep(1500);
  t.equal(agent.events().filter(reported('web')).length, before, 'and is no longer reported');
});

t.test('the window between a container\'s start and its pod\'s cgroup in scope', { skip }, async (t) => {
  const kill = policy('TracingPolicyNamespaced', 'scope-kill-2', A, execArg(VICTIM, [{ action: 'Sigkill' }]));
  const add = await runCommand(process.execPath, [VIGIL, 'policy', 'add', kill, '--socket', agent.socket]);
  t.equal(add.code, 0);
  // exec: when the first exec record of the pod came; watch: when the watch knew the pod and a walk found its cgroup.
  // The pod's cgroup enters the scope at the earlier of the two.
  const rows: { pod: string; exec: number; watch: number; inScope: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const name = `race-${i}`;
    applyPod(victimPod(A, name));
    const pod = await waitPodRunning(A, name);
    t.equal(await firstRc(A, name), '137', `${name}: its first command is killed`);
    const start = await agent.waitFor((e) => (e.process_exec?.process as TetragonProcess | undefined)?.pod?.name === name && (e.process_exec!.process as TetragonProcess).pod!.namespace === A
      && /mkdir -p/.test(e.process_exec!.process.arguments ?? ''), `${name}: the container's first exec (its sh)`, 30_000 * SLOWDOWN);
    const started = Date.parse(start.process_exec!.process.start_time!) + Number(/\.\d{3}(\d{0,6})/.exec(start.process_exec!.process.start_time!)?.[1] ?? 0) / 1e6;
    const timing = (await statusJson()).kubernetes.scopes.pod_timings_ms[pod.uid] as { exec?: number; watch?: number };
    t.ok(timing?.exec !== undefined && timing.watch !== undefined, `${name}: both ways timed`);
    const [exec, watch] = [timing.exec! - started, timing.watch! - started];
    rows.push({ pod: name, exec, watch, inScope: Math.min(exec, watch) });
  }
  t.comment(`ms from the container's first exec to its pod's cgroup in scope (negative: before it): ${JSON.stringify(rows)}`);
  t.ok(rows.every((r) => r.inScope < 0), 'every pod is in scope before its container starts');
  const out = process.env.VIGIL_SCOPE_WINDOW_OUT;
  if (out) writeFileSync(out, JSON.stringify(rows));
  t.equal((await runCommand(process.execPath, [VIGIL, 'policy', 'delete', 'scope-kill-2', '--socket', agent.socket])).code, 0);
});

t.test('kubectl apply of a TracingPolicyNamespaced: in force in its namespace only; kubectl delete lifts it', { skip }, async (t) => {
  applyCrds();
  const label = { 'vigil-test': `scope-${process.pid}` };
  const watcher = await startAgent(['--kubeconfig', cluster.adminKubeconfig, '--node-name', cluster.nodeName,
    '--k8s-policy-selector', `vigil-test=${label['vigil-test']}`]);
  t.teardown(() => watcher.stop());
  const list = async (): Promise<Record<string, any>[]> =>
    JSON.parse((await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', watcher.socket])).stdout);
  kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicyNamespaced', metadata: { name: 'scope-applied', namespace: A, labels: label }, spec: execArg(VICTIM, [{ action: 'Sigkill' }]) }),
  });
  let state: Record<string, any> | undefined;
  for (let i = 0; i < 120 * SLOWDOWN && !(state?.state === 'loaded' && state.scope?.cgroups >= 1); i++, await sleep(250)) {
    state = (await list()).find((p) => p.source?.kind === 'kubernetes');
  }
  t.match(state, { state: 'loaded', source: { kind: 'kubernetes' }, scope: { namespace: A, known: true } }, 'loaded from the cluster, scoped to its namespace');
  t.ok(state?.scope?.cgroups >= 1, 'with the pods of namespace A in scope');
  t.match(state?.name, /scope-applied/);
  t.equal(execIn(A, 'victim', [VICTIM]), 137, 'in a pod of A: killed');
  t.equal(execIn(B, 'victim', [VICTIM]), 0, 'in a pod of B: runs');
  const host = await runCommand(VICTIM, []);
  t.same([host.code, host.signal], [0, null], 'on the host: runs');

  kubectlOk(['-n', A, 'delete', 'tracingpoliciesnamespaced', 'scope-applied']);
  for (let i = 0; i < 120 * SLOWDOWN && (await list()).some((p) => p.source?.kind === 'kubernetes'); i++) await sleep(250);
  t.notOk((await list()).some((p) => p.source?.kind === 'kubernetes'), 'kubectl delete unloads it');
  t.equal(execIn(A, 'victim', [VICTIM]), 0, 'and the binary runs in A again');
});
