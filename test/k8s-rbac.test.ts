// `vigil run` with a Kubernetes identity that may not list and watch pods
// (a service account bound to no role): the agent says so clearly, once,
// and runs on without pod data; containers still get `docker`, and no
// event waits for a pod that cannot come.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyPod, busyboxPod, createNamespace, deleteNamespace, ensureCluster, kubectlOk, waitPodRunning, type Cluster, type RunningPod,
} from './lib/cluster.js';
import { runCommand, startAgent, VIGIL, type AgentHandle } from './lib/agent.js';

const NS = `vigil-k8s-rbac-${process.pid}`;
const SA = 'no-rights';
let cluster: Cluster;
let pod: RunningPod;
let agent: AgentHandle;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function k8sStatus(): Promise<Record<string, any>> {
  const r = await runCommand(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket]);
  return JSON.parse(r.stdout).kubernetes;
}

/** A kubeconfig for the service account's token, on the agent's cluster and CA. */
function serviceAccountKubeconfig(token: string): string {
  const server = /server: (\S+)/.exec(readFileSync(cluster.agentKubeconfig, 'utf8'))![1];
  const path = join(mkdtempSync(join(tmpdir(), 'vigil-rbac-')), 'kubeconfig');
  writeFileSync(path, [
    'apiVersion: v1', 'kind: Config', 'current-context: sa',
    'clusters:', '- name: c', '  cluster:', `    server: ${server}`, `    certificate-authority: ${join(cluster.runDir, 'pki/ca.crt')}`,
    'users:', `- name: ${SA}`, '  user:', `    token: ${token}`,
    'contexts:', '- name: sa', `  context: {cluster: c, user: ${SA}}`, '',
  ].join('\n'), { mode: 0o600 });
  return path;
}

t.before(async () => {
  cluster = ensureCluster();
  await createNamespace(NS);
  kubectlOk(['-n', NS, 'create', 'serviceaccount', SA]);
  const token = kubectlOk(['-n', NS, 'create', 'token', SA, '--duration', '1h']).trim();
  applyPod(busyboxPod(NS, 'plain'));
  pod = await waitPodRunning(NS, 'plain');
  agent = await startAgent(['--kubeconfig', serviceAccountKubeconfig(token), '--node-name', cluster.nodeName]);
});

t.teardown(async () => {
  await agent?.stop();
  deleteNamespace(NS, false);
});

t.test('the identity may not list pods: said once, clearly, and the agent runs on', async (t) => {
  for (let i = 0; i < 120 && (await k8sStatus()).state !== 'forbidden'; i++) await sleep(250);
  const s = await k8sStatus();
  t.equal(s.state, 'forbidden');
  t.match(s.last_error, new RegExp(`^403: pods is forbidden: User "system:serviceaccount:${NS}:${SA}" cannot list resource "pods"`));
  const said = agent.stderr().split('\n').filter((l) => l.includes('may not list and watch pods'));
  t.equal(said.length, 1, 'once');
  t.match(JSON.parse(said[0]), { level: 50, msg: /running without pod data/ });
  t.equal(agent.child.exitCode, null);
});

t.test('a process in a pod: docker from its cgroup, no pod, and no wait for one', async (t) => {
  const marker = `rbac-${process.pid}`;
  // Before the API answered, events of /proc's pod processes waited; since, none.
  const waited = (await k8sStatus()).event_cache.waited;
  const t0 = Date.now();
  kubectlOk(['-n', NS, 'exec', 'plain', '--', 'sh', '-c', `echo ${marker}`]);
  const ev = await agent.waitFor((e) => e.process_exec?.process.binary === '/bin/busybox' && !!e.process_exec.process.arguments?.includes(marker),
    'the exec', 10_000);
  t.ok(Date.now() - t0 < 10_000);
  t.equal(ev.process_exec!.process.pod, undefined);
  t.equal(ev.process_exec!.process.docker, pod.containers[0].id.slice(0, 31));
  t.match((await k8sStatus()).event_cache, { waited, timed_out: 0 });
});
