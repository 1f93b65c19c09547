// The test cluster Vigil's Kubernetes tests run against is a real one: a
// kubelet runs pods in containerd, kubectl exec reaches them, and the API
// server enforces RBAC on the agent's token.
import t from 'tap';
import {
  applyPod, busyboxPod, createNamespace, deleteNamespace, ensureCluster, kubectl, kubectlOk, waitPodRunning,
  type Cluster, type RunningPod,
} from './lib/cluster.js';

const NS = `vigil-k8s-cluster-${process.pid}`;
let cluster: Cluster;
let pod: RunningPod;

t.before(async () => {
  cluster = ensureCluster();
  await createNamespace(NS);
});
t.teardown(() => deleteNamespace(NS, false));

t.test('a busybox pod runs with a containerd container ID and a pod IP', async (t) => {
  const { namespace, name } = applyPod(busyboxPod(NS, 'sleeper'));
  pod = await waitPodRunning(namespace, name);
  t.equal(pod.containers.length, 1);
  t.match(pod.containers[0].containerID, /^containerd:\/\/[0-9a-f]{64}$/);
  t.match(pod.uid, /^[0-9a-f-]{36}$/);
  t.match(pod.ip, /^10\.88\.\d+\.\d+$/, 'an address from the pod network, not the host network');
  const node = kubectlOk(['-n', NS, 'get', 'pod', name, '-o', 'jsonpath={.spec.nodeName}']);
  t.equal(node, cluster.nodeName);
});

t.test('kubectl exec into the pod: its cgroups name the container', async (t) => {
  const out = kubectlOk(['-n', NS, 'exec', pod.name, '--', 'cat', '/proc/self/cgroup']);
  t.ok(out.includes(pod.containers[0].id), `the container ID is in /proc/self/cgroup:\n${out}`);
  t.ok(out.includes(pod.uid) || out.includes(pod.uid.replace(/-/g, '_')), 'so is the pod UID');
});

t.test('RBAC: the agent token cannot list secrets, the admin can', async (t) => {
  const agent = kubectl(['-n', NS, 'get', 'secrets'], { kubeconfig: cluster.agentKubeconfig });
  t.not(agent.status, 0);
  t.match(agent.stderr, /\(Forbidden\).*User "vigil-agent" cannot list resource "secrets"/);
  const raw = kubectl(['get', '--raw', `/api/v1/namespaces/${NS}/secrets`, '-v=6'], { kubeconfig: cluster.agentKubeconfig });
  t.match(raw.stderr, /403 Forbidden/, 'the API server answers 403');
  t.equal(kubectl(['-n', NS, 'get', 'secrets'], { kubeconfig: cluster.adminKubeconfig }).status, 0);
  const pods = kubectl(['-n', NS, 'get', 'pods', '-o', 'name'], { kubeconfig: cluster.agentKubeconfig });
  t.equal(pods.status, 0, 'the agent may list pods');
  t.match(pods.stdout, /pod\/sleeper/);
});
