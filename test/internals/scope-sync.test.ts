// ScopeSync and PodCgroups (agent/scope/): each scope's map made exactly
// the cgroups of the pods, or containers, it selects among the pod index's
// live pods; cgroups found by a walk of the kubelet's tree or learnt from an
// exec record's path; nothing changed before the watch has listed. A
// directory tree stands in for the cgroup2 mount (ids are inode numbers);
// the maps are real BPF maps.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodCgroups } from '../../agent/scope/pod-cgroups.js';
import { ScopeSync } from '../../agent/scope/sync.js';
import { PolicyScopes } from '../../agent/scope/scopes.js';
import { PodIndex } from '../../agent/k8s/pod-index.js';
import { createLogger } from '../../agent/log.js';
import { cgroupId } from '../../kernel/cgroup.js';
import type { PodObject } from '../../agent/k8s/pod-record.js';

const root = mkdtempSync(join(tmpdir(), 'vigil-cgroups-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const UID_A = '11111111-2222-3333-4444-555555555555';
const UID_B = '66666666-7777-8888-9999-000000000000';
const CTR = (n: number): string => String(n).repeat(64);
/** cgroupfs layout: /kubepods/besteffort/pod<uid>/<container id>. */
const podDir = (uid: string): string => `/kubepods/besteffort/pod${uid}`;
const mk = (rel: string): string => {
  mkdirSync(join(root, rel), { recursive: true });
  return join(root, rel);
};
const pod = (uid: string, ns: string, labels: Record<string, string>, containers: [string, string][] = []): PodObject => ({
  metadata: { uid, namespace: ns, name: `pod-${uid.slice(0, 4)}`, labels },
  status: { containerStatuses: containers.map(([name, id]) => ({ name, containerID: `containerd://${id}`, state: { running: {} } })) },
});

t.test('PodCgroups: what a path names, and a walk', async (t) => {
  const c = new PodCgroups(root);
  mk(`${podDir(UID_A)}/${CTR(1)}/inner`);
  t.same(c.learn(`${podDir(UID_A)}/${CTR(1)}/inner`), { uid: UID_A, fresh: true }, 'a container\'s own cgroup names its pod');
  t.equal(c.pod(UID_A), cgroupId(join(root, podDir(UID_A))), 'the pod\'s cgroup, not the container\'s');
  t.equal(c.container(CTR(1)), cgroupId(join(root, podDir(UID_A), CTR(1))), 'and the container\'s, not the cgroup below it');
  t.same(c.learn(`${podDir(UID_A)}/${CTR(1)}`), { uid: UID_A, fresh: false }, 'known: not fresh');
  t.same(c.learn('/system.slice/sshd.service'), { uid: undefined, fresh: false }, 'a host cgroup names nothing');
  mk(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_B.replace(/-/g, '_')}.slice/cri-containerd-${CTR(2)}.scope`);
  t.equal(c.pod(UID_B), undefined);
  c.walk();
  t.equal(c.pod(UID_B), cgroupId(join(root, `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_B.replace(/-/g, '_')}.slice`)), 'systemd names, found by a walk');
  t.ok(c.container(CTR(2)));
});

t.test('ScopeSync: scopes follow the pods, their labels, and the first exec in a pod', async (t) => {
  const scopes = new PolicyScopes(createLogger('silent'));
  const index = new PodIndex();
  let listed = false;
  const sync = new ScopeSync(scopes, index, new PodCgroups(root), () => listed, createLogger('silent'));
  sync.start();
  t.teardown(() => sync.stop());
  const ns = scopes.acquire('ns-web', { namespace: 'web' });
  const sel = scopes.acquire('app-web', { podSelector: { matchLabels: { app: 'web' } } });
  const ctr = scopes.acquire('ctr-main', { containerSelector: { matchLabels: { name: 'main' } } });
  t.teardown(() => [ns, sel, ctr].forEach((s) => scopes.release(s)));
  ns.add(42n);

  index.upsert(pod(UID_A, 'web', { app: 'web' }, [['main', CTR(1)]]));
  index.upsert(pod(UID_B, 'shop', { app: 'db' }, [['side', CTR(2)]]));
  sync.syncAll();
  t.same(ns.ids(), [42n], 'before the watch has listed, nothing changes');

  listed = true;
  sync.syncAll();
  const a = cgroupId(join(root, podDir(UID_A)));
  t.same(ns.ids(), [a], 'namespace web: pod A\'s cgroup, and only it');
  t.same(sel.ids(), [a], 'app=web: pod A');
  t.same(ctr.ids(), [cgroupId(join(root, podDir(UID_A), CTR(1)))], 'container main: its own cgroup, not the pod\'s');

  index.upsert(pod(UID_A, 'web', { app: 'old' }, [['main', CTR(1)]]));
  sync.syncAll();
  t.same(sel.ids(), [], 'relabelled: out of app=web');
  t.same(ns.ids(), [a], 'still in its namespace');

  index.remove(pod(UID_A, 'web', { app: 'old' }), Date.now());
  sync.syncAll();
  t.same(ns.ids(), [], 'deleted: out');

  // A pod the watch knows before its cgroup exists: in scope at the first exec in it.
  const UID_C = 'cccccccc-2222-3333-4444-555555555555';
  index.upsert(pod(UID_C, 'web', {}));
  sync.syncAll();
  t.same(ns.ids(), [], 'no cgroup yet');
  mk(`${podDir(UID_C)}/${CTR(3)}`);
  sync.exec(99n, `${podDir(UID_C)}/${CTR(3)}`);
  t.same(ns.ids(), [cgroupId(join(root, podDir(UID_C)))], 'the exec record puts its pod in scope at once');
  t.equal(sync.stats.from_exec, 1);
  t.ok(sync.timings.get(UID_C)?.exec, 'and it is timed');
});
