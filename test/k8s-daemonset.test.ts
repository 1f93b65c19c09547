// deploy/ on the real test cluster: the image built by scripts/build-image.sh
// and imported into the node's containerd, the manifests accepted by the API
// server (--dry-run=server), and the DaemonSet run by the real kubelet,
// under the ServiceAccount and ClusterRole of deploy/rbac.yaml: the agent in
// the pod becomes ready, loads a TracingPolicy applied with kubectl, and
// its Sigkill reaches a process on the host (hostPID: one kernel).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureCluster, kubectl, kubectlOk, type Cluster } from './lib/cluster.js';
import { REPO } from './lib/agent.js';
import { SLOWDOWN } from './lib/kernel.js';
import { applyCrds, fate, killPolicy, victims } from './lib/k8s-policies.js';
import { testDaemonSet } from './lib/daemonset.js';

const RUN = `${process.pid}`;
const LABELS = { 'vigil-test': `ds-${RUN}` };
const POLICY = `ds-kill-${RUN}`;
const bins = victims(['victim']);
let cluster: Cluster;
let ds: Record<string, any>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const podLogs = (): string => kubectl(['-n', 'vigil', 'logs', '-l', `app.kubernetes.io/name=${ds.metadata.name}`, '--tail=-1']).stdout;

async function until(what: string, pred: () => boolean, ms = 120_000 * SLOWDOWN): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what}: not after ${ms} ms\n${kubectl(['-n', 'vigil', 'describe', 'pods', '-l', `app.kubernetes.io/name=${ds.metadata.name}`]).stdout.slice(-3000)}`);
    await sleep(500);
  }
}

t.before(() => {
  cluster = ensureCluster();
  applyCrds();
  const r = spawnSync('bash', [join(REPO, 'scripts/build-image.sh'), '--import', cluster.containerdSock], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`scripts/build-image.sh: exit ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}: ${r.stderr}`);
  kubectlOk(['apply', '-f', join(REPO, 'deploy/rbac.yaml')]);
  ds = testDaemonSet(RUN, `vigil-test=${LABELS['vigil-test']}`);
});

t.teardown(() => {
  kubectl(['delete', 'tracingpolicy', POLICY, '--ignore-not-found']);
  if (ds) kubectl(['-n', 'vigil', 'delete', 'daemonset', ds.metadata.name, '--ignore-not-found', '--wait=true'], { timeoutMs: 120_000 });
  rmSync(dirname(bins.victim), { recursive: true, force: true });
});

t.test('the API server accepts deploy/ as it is', async (t) => {
  const r = kubectl(['apply', '--dry-run=server', '-f', join(REPO, 'deploy/rbac.yaml'), '-f', join(REPO, 'deploy/daemonset.yaml')]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /daemonset\.apps\/vigil (created|configured|unchanged) \(server dry run\)/);
});

t.test('the DaemonSet runs in the kubelet, and its agent enforces a policy from kubectl apply', async (t) => {
  kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(ds) });
  await until('the agent ready in its pod', () => /"msg":"ready"/.test(podLogs()));
  const logs = podLogs();
  t.match(logs, /"msg":"kubernetes: connected, pods listed"/, 'the pod watch, with the ServiceAccount');
  t.match(logs, /"msg":"kubernetes: tracingpolicies listed, watching"/, 'the policy watch');
  t.notMatch(logs, /forbidden/i, 'nothing refused by RBAC');
  t.equal(await fate(bins.victim), 'ran', 'before');
  kubectlOk(['apply', '-f', '-'], { input: killPolicy(POLICY, LABELS, bins.victim) });
  await until('the policy loaded in the pod', () => new RegExp(`"policy":"${POLICY}".*"msg":"policy loaded"`).test(podLogs()), 60_000 * SLOWDOWN);
  t.equal(await fate(bins.victim), 'killed', 'a host process, killed by the pod\'s agent');
  kubectlOk(['delete', 'tracingpolicy', POLICY]);
  await until('detached', () => /policy deleted from the cluster, detached/.test(podLogs()), 60_000 * SLOWDOWN);
  t.equal(await fate(bins.victim), 'ran', 'lifted');
  kubectlOk(['-n', 'vigil', 'delete', 'daemonset', ds.metadata.name, '--wait=true'], { timeoutMs: 120_000 });
  await until('the pod gone', () => !kubectl(['-n', 'vigil', 'get', 'pods', '-l', `app.kubernetes.io/name=${ds.metadata.name}`, '-o', 'name']).stdout.trim(), 120_000 * SLOWDOWN);
  t.notOk(existsSync(`/sys/fs/bpf/vigil-ds-${RUN}`) && spawnSync('ls', [`/sys/fs/bpf/vigil-ds-${RUN}`]).stdout.length > 0, 'a clean stop left no pins');
});
