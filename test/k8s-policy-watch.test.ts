// TracingPolicy objects from a real API server, loaded by a real agent that
// authenticates with deploy/'s own ServiceAccount token (so the real API
// server enforces deploy/rbac.yaml): kubectl apply puts a Sigkill in force
// within seconds, an edit replaces it, a delete lifts it; a policy from a
// file runs beside them; a broken policy gets a Warning Event that kubectl
// describe shows, with its field path, and nothing else stops.
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureCluster, kubectl, kubectlOk, type Cluster } from './lib/cluster.js';
import { REPO, runCommand, startAgent, VIGIL, type AgentHandle } from './lib/agent.js';
import { SLOWDOWN } from './lib/kernel.js';
import { applyCrds, fate, killPolicy, policyList, serviceAccountToken, tokenKubeconfig, victims } from './lib/k8s-policies.js';

const RUN = `${process.pid}`;
const LABELS = { 'vigil-test': `k8s-policy-watch-${RUN}` };
const KILL = `kw-kill-${RUN}`;
const BROKEN = `kw-broken-${RUN}`;
const bins = victims(['first', 'second']);
let cluster: Cluster;
let agent: AgentHandle;
let fileDir: string;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const apply = (json: string) => kubectlOk(['apply', '-f', '-'], { input: json });

/** Polls until the agent's policy list satisfies pred; returns how long it took. */
async function until(what: string, pred: (l: Awaited<ReturnType<typeof policyList>>) => boolean, ms = 30_000 * SLOWDOWN): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const list = await policyList(agent.socket);
    if (pred(list)) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not after ${ms} ms: ${JSON.stringify(list.map((p) => [p.name, p.state, p.source, p.errors, p.rejected]))}`);
    await sleep(200);
  }
}

/** The Warning Events on a TracingPolicy, as kubectl describe prints them. */
async function describeWarning(name: string, want: RegExp, ms = 30_000 * SLOWDOWN): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const out = kubectl(['describe', 'tracingpolicy', name]).stdout;
    if (want.test(out)) return out;
    if (Date.now() - t0 > ms) throw new Error(`kubectl describe tracingpolicy ${name}: no ${want} after ${ms} ms:\n${out}`);
    await sleep(500);
  }
}

t.before(async () => {
  cluster = ensureCluster();
  applyCrds();
  kubectlOk(['apply', '-f', join(REPO, 'deploy/rbac.yaml')]);
  const kubeconfig = tokenKubeconfig(cluster, 'vigil', serviceAccountToken('vigil', 'vigil'));
  // A policy from a file beside those of the cluster: events only.
  fileDir = dirname(bins.first);
  writeFileSync(join(fileDir, 'file-policy.yaml'), [
    'apiVersion: cilium.io/v1alpha1', 'kind: TracingPolicy', `metadata: {name: kw-file-${RUN}}`, 'spec:', '  kprobes:',
    '  - call: sys_getppid', '    syscall: true', '',
  ].join('\n'));
  agent = await startAgent(['--kubeconfig', kubeconfig, '--node-name', cluster.nodeName, '--k8s-policy-selector', `vigil-test=${LABELS['vigil-test']}`,
    '--policy', join(fileDir, 'file-policy.yaml')]);
});

t.teardown(async () => {
  kubectl(['delete', 'tracingpolicy', KILL, BROKEN, '--ignore-not-found']);
  await agent?.stop();
  rmSync(fileDir, { recursive: true, force: true });
});

t.test('kubectl apply: the Sigkill is in force within seconds, beside the file\'s policy', async (t) => {
  t.equal(await fate(bins.first), 'ran', 'before');
  apply(killPolicy(KILL, LABELS, bins.first));
  const took = await until('loaded', (l) => l.some((p) => p.name === KILL && p.state === 'loaded'));
  t.ok(took < 30_000 * SLOWDOWN, `in force ${took} ms after kubectl apply returned`);
  t.equal(await fate(bins.first), 'killed');
  t.equal(await fate(bins.second), 'ran', 'another binary runs');
  const list = await policyList(agent.socket);
  t.match(list.find((p) => p.name === KILL), { file: `TracingPolicy/${KILL}`, source: { kind: 'kubernetes', resource: 'TracingPolicy', name: KILL, generation: 1 } });
  t.match(list.find((p) => p.name === `kw-file-${RUN}`), { state: 'loaded', source: { kind: 'file' }, file: join(fileDir, 'file-policy.yaml') });
  const text = (await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--socket', agent.socket])).stdout;
  t.match(text, new RegExp(`${KILL}  loaded  kubernetes TracingPolicy/${KILL} \\(generation 1\\)`));
  t.match(text, new RegExp(`kw-file-${RUN}  loaded  file ${fileDir}/file-policy.yaml`));
});

t.test('vigil policy delete refuses a policy of the cluster, and names the kubectl command', async (t) => {
  const r = await runCommand(process.execPath, [VIGIL, 'policy', 'delete', KILL, '--socket', agent.socket]);
  t.not(r.code, 0);
  t.equal(await fate(bins.first), 'killed', 'still in force');
});

t.test('an edit (a new generation) replaces it', async (t) => {
  apply(killPolicy(KILL, LABELS, bins.second));
  await until('generation 2', (l) => l.some((p) => p.name === KILL && p.state === 'loaded' && p.source.kind === 'kubernetes' && p.source.generation === 2));
  t.equal(await fate(bins.second), 'killed');
  t.equal(await fate(bins.first), 'ran', 'the old version is gone');
  // A label change is no new generation: nothing is reloaded.
  kubectlOk(['label', 'tracingpolicy', KILL, 'touched=yes']);
  await sleep(2000);
  t.match((await policyList(agent.socket)).find((p) => p.name === KILL), { source: { generation: 2 } });
  t.ok(!agent.stderr().split('\n').some((l) => l.includes('policy changed, replacing') && l.includes('"generation":3')));
});

t.test('a broken policy: a Warning Event with the field path, and the rest keeps running', async (t) => {
  apply(killPolicy(BROKEN, LABELS, bins.first, 'vigil_no_such_function'));
  const out = await describeWarning(BROKEN, /PolicyNotLoaded/);
  t.match(out, /Warning\s+PolicyNotLoaded/);
  t.match(out, new RegExp(`TracingPolicy/${BROKEN}:\\d+:\\d+: spec\\.kprobes\\[0\\]\\.call: `));
  t.match(out, /not in force on this node/);
  t.match(out, new RegExp(`first reported by node ${cluster.nodeName}`));
  const list = await policyList(agent.socket);
  t.match(list.find((p) => p.file === `TracingPolicy/${BROKEN}`), { state: 'error' });
  t.equal(agent.child.exitCode, null, 'the agent runs');
  t.equal(await fate(bins.second), 'killed', 'the other policy still enforces');

  // A broken edit of a running policy: the running generation stays, and the Event says so.
  apply(killPolicy(KILL, LABELS, bins.first, 'vigil_no_such_function'));
  const out2 = await describeWarning(KILL, /generation 3 was not loaded; generation 2 stays in force/);
  t.match(out2, new RegExp(`TracingPolicy/${KILL}:\\d+:\\d+: spec\\.kprobes\\[0\\]\\.call: `));
  t.equal(await fate(bins.second), 'killed', 'generation 2 still enforces');
  t.equal(await fate(bins.first), 'ran');
  // The broken one fixed: it loads.
  apply(killPolicy(BROKEN, LABELS, bins.first));
  await until('the fixed policy', (l) => l.some((p) => p.name === BROKEN && p.state === 'loaded'));
  t.equal(await fate(bins.first), 'killed');
});

t.test('kubectl delete lifts it', async (t) => {
  kubectlOk(['delete', 'tracingpolicy', KILL, BROKEN]);
  await until('gone', (l) => !l.some((p) => p.source?.kind === 'kubernetes'));
  t.equal(await fate(bins.first), 'ran');
  t.equal(await fate(bins.second), 'ran');
  t.match((await policyList(agent.socket)).find((p) => p.name === `kw-file-${RUN}`), { state: 'loaded' }, 'the file\'s policy stays');
  t.equal(agent.child.exitCode, null);
});
