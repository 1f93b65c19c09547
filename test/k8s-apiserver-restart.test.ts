// The API server goes away while `vigil run` watches the node's pods, and
// comes back: the agent keeps running and says so once, events of
// containers it already knew keep their pod meanwhile, and once the API
// server is back the agent relists and names new pods again.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  applyPod, busyboxPod, createNamespace, deleteNamespace, ensureCluster, waitPodRunning, type Cluster, type RunningPod,
} from './lib/cluster.js';
import { REPO, runCommand, startAgent, VIGIL, type AgentHandle } from './lib/agent.js';

const NS = `vigil-k8s-restart-${process.pid}`;
const APISERVER = join(REPO, 'test/cluster/apiserver.sh');
let cluster: Cluster;
let steady: RunningPod;
let agent: AgentHandle;
let stopped = false;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function apiserver(cmd: 'stop' | 'start'): void {
  const r = spawnSync('bash', [APISERVER, cmd], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`apiserver.sh ${cmd}: ${r.stdout}${r.stderr}`);
  stopped = cmd === 'stop';
}

async function k8sStatus(): Promise<Record<string, any>> {
  const r = await runCommand(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket]);
  return JSON.parse(r.stdout).kubernetes;
}

async function until(what: string, pred: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`not after ${ms} ms: ${what}`);
    await sleep(250);
  }
}

t.before(async () => {
  cluster = ensureCluster();
  await createNamespace(NS);
  applyPod(busyboxPod(NS, 'steady'));
  steady = await waitPodRunning(NS, 'steady');
  agent = await startAgent(['--kubeconfig', cluster.agentKubeconfig, '--node-name', cluster.nodeName]);
});

t.teardown(async () => {
  if (stopped) apiserver('start');
  await agent?.stop();
  deleteNamespace(NS, false);
});

/** Runs a command in a container through containerd, which needs no API server (kubectl exec does). */
function ctrExec(containerId: string, args: string[]): void {
  const r = spawnSync('ctr', ['-a', cluster.containerdSock, '-n', 'k8s.io', 'tasks', 'exec', '--exec-id', `vigil-${process.pid}-${Date.now()}`, containerId, ...args],
    { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`ctr tasks exec: ${r.stderr}`);
}

t.test('the API server stops: the agent keeps running, says so once, and known containers keep their pod', async (t) => {
  await until('connected', async () => (await k8sStatus()).state === 'connected', 60_000);
  const id = steady.containers[0].id;
  await agent.waitFor((e) => e.process_exec?.process.docker === id.slice(0, 31) && e.process_exec.process.pod?.name === 'steady', 'steady\'s sleep, from /proc', 30_000);
  apiserver('stop');
  await until('retrying', async () => (await k8sStatus()).state === 'retrying', 60_000);
  const marker = `outage-${process.pid}`;
  ctrExec(id, ['/bin/echo', marker]);
  const ev = await agent.waitFor((e) => e.process_exec?.process.arguments === marker, 'the exec during the outage', 10_000);
  t.match(ev.process_exec!.process.pod, { namespace: NS, name: 'steady', container: { id: `containerd://${id}`, name: 'main' } },
    'named from what the agent knew');
  // Backoff retries at 1, 2, 4 s: still one warning.
  await sleep(8000);
  const s = await k8sStatus();
  t.ok(s.errors >= 3, `${s.errors} failed attempts`);
  t.match(s.last_error, /ECONNREFUSED|socket hang up|ECONNRESET/);
  t.equal((agent.stderr().match(/the Kubernetes API failed/g) ?? []).length, 1, 'logged once for the state change');
  t.equal(agent.child.exitCode, null, 'the agent runs on');
  t.equal(s.pods >= 1, true, 'pods known before are kept');
});

t.test('the API server comes back: relisted, connected, new pods named again', async (t) => {
  const before = (await k8sStatus()).lists;
  apiserver('start');
  // The next retry comes within the backoff's 30 s cap.
  await until('connected again', async () => (await k8sStatus()).state === 'connected', 90_000);
  t.ok((await k8sStatus()).lists > before, 'the pods were listed again');
  t.equal((agent.stderr().match(/kubernetes: connected, pods listed/g) ?? []).length, 2, 'the return logged once');
  const marker = `after-${process.pid}`;
  applyPod(busyboxPod(NS, 'after', ['sh', '-c', `echo ${marker}; exec sleep 3600`]));
  const after = await waitPodRunning(NS, 'after');
  const ev = await agent.waitFor((e) => e.process_exec?.process.docker === after.containers[0].id.slice(0, 31) && !!e.process_exec.process.arguments?.includes(marker),
    'the new pod\'s command', 60_000);
  t.match(ev.process_exec!.process.pod, { namespace: NS, name: 'after', container: { name: 'main', pid: 1 } });
});
