// The agent with an identity that may list but not watch pods and policies
// (deploy/rbac.yaml's ClusterRole without `watch`): it says so clearly, for
// each resource, and keeps running: policy files still load and enforce.
import t from 'tap';
import { writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createNamespace, deleteNamespace, ensureCluster, kubectl, kubectlOk, type Cluster } from './lib/cluster.js';
import { runCommand, startAgent, VIGIL, type AgentHandle } from './lib/agent.js';
import { SLOWDOWN } from './lib/kernel.js';
import { applyCrds, fate, killPolicy, serviceAccountToken, tokenKubeconfig, victims } from './lib/k8s-policies.js';

const RUN = `${process.pid}`;
const NS = `vigil-policy-rbac-${RUN}`;
const ROLE = `vigil-no-watch-${RUN}`;
const bins = victims(['victim']);
let cluster: Cluster;
let agent: AgentHandle;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function k8sStatus(): Promise<Record<string, any>> {
  const r = await runCommand(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket]);
  return JSON.parse(r.stdout).kubernetes;
}

t.before(async () => {
  cluster = ensureCluster();
  applyCrds();
  await createNamespace(NS);
  kubectlOk(['-n', NS, 'create', 'serviceaccount', 'vigil']);
  kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1', kind: 'List', items: [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: ROLE },
          rules: [
            { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
            { apiGroups: ['cilium.io'], resources: ['tracingpolicies', 'tracingpoliciesnamespaced'], verbs: ['list'] },
            { apiGroups: [''], resources: ['events'], verbs: ['create'] },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: ROLE },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLE },
          subjects: [{ kind: 'ServiceAccount', name: 'vigil', namespace: NS }],
        },
      ],
    }),
  });
  const policy = join(dirname(bins.victim), 'kill.yaml');
  writeFileSync(policy, killPolicy(`rbac-file-${RUN}`, {}, bins.victim));
  const kubeconfig = tokenKubeconfig(cluster, 'vigil', serviceAccountToken(NS, 'vigil'));
  agent = await startAgent(['--kubeconfig', kubeconfig, '--node-name', cluster.nodeName, '--k8s-policy-selector', `vigil-test=none-${RUN}`, '--policy', policy]);
});

t.teardown(async () => {
  await agent?.stop();
  kubectl(['delete', 'clusterrolebinding,clusterrole', ROLE, '--ignore-not-found']);
  deleteNamespace(NS, false);
  rmSync(dirname(bins.victim), { recursive: true, force: true });
});

t.test('no watch on pods nor policies: said once each, clearly, and the agent runs on', async (t) => {
  const want = (s: Record<string, any>) => s.state === 'forbidden' && s.policy_watch?.TracingPolicy?.state === 'forbidden' && s.policy_watch?.TracingPolicyNamespaced?.state === 'forbidden';
  for (let i = 0; i < 120 * SLOWDOWN && !want(await k8sStatus()); i++) await sleep(250);
  const s = await k8sStatus();
  t.equal(s.state, 'forbidden', 'the pod watch');
  t.match(s.last_error, /^403/);
  t.match(agent.stderr(), /may not list and watch pods \(403: Forbidden\): running without pod data/);
  for (const [kind, plural] of [['TracingPolicy', 'tracingpolicies'], ['TracingPolicyNamespaced', 'tracingpoliciesnamespaced']]) {
    t.match(s.policy_watch[kind], { state: 'forbidden', last_error: `403: Forbidden: the identity may list ${plural} but not watch them` }, kind);
    const said = agent.stderr().split('\n').filter((l) => l.includes(`may not list and watch ${plural} `));
    t.equal(said.length, 1, `${kind}: said once`);
    t.match(JSON.parse(said[0]), { level: 50, msg: new RegExp(`running without ${kind} objects from the cluster, retrying every 60 s`) });
  }
  t.equal(agent.child.exitCode, null, 'the agent runs');
  t.equal(await fate(bins.victim), 'killed', 'the policy file enforces');
});
