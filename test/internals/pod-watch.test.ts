// The pod watch against a scripted API server: list then watch, 410 Gone,
// an API that fails and comes back, one that refuses the agent (403), and
// one that is not there. The agent's side never throws; each state change
// is logged once.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { pino } from 'pino';
import { KubernetesPods } from '../../agent/k8s/pods.js';
import { fakeApiServer, json, podList, status, watchLine, type FakeApiServer } from '../lib/fake-apiserver.js';

const TIMING = { minBackoffMs: 50, maxBackoffMs: 200, forbiddenRetryMs: 300 };
const dir = mkdtempSync(join(tmpdir(), 'vigil-podwatch-'));
const hex = (c: string): string => c.repeat(64);

function pod(name: string, uid: string, container: string, rv = '1'): object {
  return {
    metadata: { name, namespace: 'ns', uid, resourceVersion: rv },
    status: { containerStatuses: [{ name: 'main', containerID: `containerd://${hex(container)}`, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }] },
  };
}
const A = pod('a', 'uid-a', 'a');
const B = pod('b', 'uid-b', 'b', '11');

interface Logged { level: number; msg: string; last_error?: string }

function harness(kubeconfig: string) {
  const logs: Logged[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s)) });
  let changes = 0;
  const pods = new KubernetesPods({ kind: 'kubeconfig', path: kubeconfig }, 'node1', log, () => changes++, TIMING);
  return { pods, logs, changes: () => changes };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`not after ${ms} ms: ${what}`);
    await sleep(10);
  }
}
const knows = (pods: KubernetesPods, c: string): string | undefined => pods.index.lookup({ id: hex(c) })?.pod.name;

/** A fake API server of the test's own, closed after it. */
async function serve(t: { teardown(fn: () => unknown): void }): Promise<FakeApiServer> {
  const api = await fakeApiServer();
  t.teardown(() => api.close());
  return api;
}

t.test('list, then watch from the list\'s version, for this node only; watch events apply', async (t) => {
  const api = await serve(t);
  let watch: ServerResponse | undefined;
  api.handle((req, res) => {
    if (!req.watch) return json(res, podList([A], '10'));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(watchLine('ADDED', B));
    watch = res;
  });
  const { pods, logs } = harness(api.kubeconfig(dir));
  t.teardown(() => pods.stop());
  await pods.start();
  await until('both pods known', () => knows(pods, 'a') === 'a' && knows(pods, 'b') === 'b');
  t.equal(pods.status().state, 'connected');
  const [list, w] = api.requests.slice(-2);
  t.equal(list.fieldSelector, 'spec.nodeName=node1');
  t.equal(list.authorization, 'Bearer fake-token');
  t.ok(w.watch);
  t.equal(w.resourceVersion, '10');
  watch!.write(watchLine('DELETED', A));
  await until('a deleted', () => pods.index.deletedKept === 1);
  t.equal(knows(pods, 'a'), 'a', 'a deleted pod still names its containers');
  t.same(logs.filter((l) => l.level >= 40), [], 'nothing to warn about');
});

t.test('410 Gone in the watch: a relist, still connected, no failure', async (t) => {
  const api = await serve(t);
  let lists = 0;
  api.handle((req, res) => {
    if (!req.watch) return json(res, podList(++lists === 1 ? [A, B] : [A], String(10 * lists)));
    res.writeHead(200, { 'content-type': 'application/json' });
    if (lists === 1) res.end(watchLine('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }));
  });
  const { pods, logs } = harness(api.kubeconfig(dir));
  t.teardown(() => pods.stop());
  await pods.start();
  await until('relisted', () => lists === 2 && pods.index.deletedKept === 1);
  t.equal(knows(pods, 'b'), 'b', 'a pod gone meanwhile is kept as deleted');
  t.match(pods.status(), { state: 'connected', lists: 2, errors: 0 });
  t.same(logs.filter((l) => l.level >= 40), []);
});

t.test('the API fails: retrying with backoff, pods kept, one warning; it comes back: relisted, connected', async (t) => {
  const api = await serve(t);
  let down = false;
  let watch: ServerResponse | undefined;
  api.handle((req, res) => {
    if (down) return json(res, status(500, 'etcd is gone'), 500);
    if (!req.watch) return json(res, podList(watch ? [A] : [A, B], '10'));
    res.writeHead(200, { 'content-type': 'application/json' });
    watch = res;
  });
  const { pods, logs } = harness(api.kubeconfig(dir));
  t.teardown(() => pods.stop());
  await pods.start();
  await until('connected', () => pods.status().state === 'connected' && watch !== undefined);
  down = true;
  const before = api.requests.length;
  watch!.end();
  await until('retrying', () => pods.status().state === 'retrying');
  await until('retried a few times', () => api.requests.length >= before + 4);
  t.equal(knows(pods, 'b'), 'b', 'pods known before are kept while the API is away');
  t.match(pods.status().last_error, /500: etcd is gone/);
  const warnings = logs.filter((l) => l.level === 40);
  t.equal(warnings.length, 1, 'one warning for the state change, not one per retry');
  t.match(warnings[0].msg, /Kubernetes API failed/);
  down = false;
  await until('connected again', () => pods.status().state === 'connected');
  await until('b, gone meanwhile, deleted', () => pods.index.deletedKept === 1);
  t.equal(logs.filter((l) => l.msg === 'kubernetes: connected, pods listed').length, 2);
});

t.test('403: the identity may not list pods; said once, no event waits, retried quietly until it may', async (t) => {
  const api = await serve(t);
  let allowed = false;
  api.handle((req, res) => {
    if (!allowed) {
      return json(res, status(403, 'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" at the cluster scope'), 403);
    }
    if (!req.watch) return json(res, podList([A], '10'));
    res.writeHead(200, { 'content-type': 'application/json' });
  });
  const { pods, logs } = harness(api.kubeconfig(dir));
  t.teardown(() => pods.stop());
  await pods.start();
  await until('forbidden', () => pods.status().state === 'forbidden');
  t.equal(pods.mayWait, false, 'events do not wait for pods the agent may not see');
  const before = api.requests.length;
  await until('retried', () => api.requests.length >= before + 2);
  const errors = logs.filter((l) => l.level >= 50);
  t.equal(errors.length, 1, 'said once');
  t.match(errors[0].msg, /may not list and watch pods \(403: pods is forbidden: User "nobody" cannot list/);
  allowed = true;
  await until('connected', () => pods.status().state === 'connected');
  t.equal(pods.mayWait, true);
});

t.test('nothing listens: retrying, no crash', async (t) => {
  const gone = await fakeApiServer();
  const kubeconfig = gone.kubeconfig(mkdtempSync(join(tmpdir(), 'vigil-podwatch-')));
  await gone.close();
  const { pods, logs } = harness(kubeconfig);
  t.teardown(() => pods.stop());
  await pods.start();
  await until('retrying', () => pods.status().state === 'retrying');
  t.match(pods.status().last_error, /ECONNREFUSED/);
  t.equal(logs.filter((l) => l.level === 40).length, 1);
  t.equal(pods.mayWait, true, 'events may wait: the API may come (they time out otherwise)');
});
