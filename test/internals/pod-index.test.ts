// The node's pods by container ID and pod UID; Tetragon's pod object;
// deleted pods kept a while, and bounded.
import t from 'tap';
import { PodIndex } from '../../agent/k8s/pod-index.js';
import { podRecord, tetragonPod, type PodObject } from '../../agent/k8s/pod-record.js';

const C1 = 'a'.repeat(64);
const C1_OLD = 'b'.repeat(64);
const INIT = 'c'.repeat(64);
const SANDBOX = 'd'.repeat(64);
const UID = '11111111-2222-3333-4444-555555555555';

function pod(uid = UID, over: Partial<NonNullable<PodObject['status']>> = {}, name = 'web-688c6cd6f7-mwvlk'): PodObject {
  return {
    metadata: {
      name, namespace: 'shop', uid, generateName: 'web-688c6cd6f7-',
      labels: { app: 'web', 'pod-template-hash': '688c6cd6f7' },
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-688c6cd6f7', controller: true }],
    },
    status: {
      initContainerStatuses: [{ name: 'init', containerID: `containerd://${INIT}`, image: 'busybox:1', imageID: 'sha256:1',
        state: { terminated: { containerID: `containerd://${INIT}`, startedAt: '2026-01-02T03:04:00Z' } } }],
      containerStatuses: [{
        name: 'main', containerID: `containerd://${C1}`, image: 'vigil.test/busybox:1', imageID: 'sha256:519a',
        // A list gives Dates, a watch strings.
        state: { running: { startedAt: new Date('2026-01-02T03:04:05Z') } },
        lastState: { terminated: { containerID: `containerd://${C1_OLD}`, startedAt: '2026-01-02T03:00:00Z' } },
      }],
      ...over,
    },
  };
}

t.test('Tetragon\'s pod object for a process in a container', async (t) => {
  const rec = podRecord(pod());
  t.same(tetragonPod(rec, C1, 7), {
    namespace: 'shop', name: 'web-688c6cd6f7-mwvlk', uid: UID,
    container: { id: `containerd://${C1}`, name: 'main', image: { id: 'sha256:519a', name: 'vigil.test/busybox:1' }, start_time: '2026-01-02T03:04:05Z', pid: 7 },
    pod_labels: { app: 'web', 'pod-template-hash': '688c6cd6f7' }, workload: 'web', workload_kind: 'Deployment',
  });
  t.equal(tetragonPod(rec, C1, 0).container!.pid, undefined, 'pid 0 (unknown) is left out');
  t.equal(tetragonPod(rec, C1_OLD, 3).container!.start_time, '2026-01-02T03:00:00Z', 'the previous instance of a restarted container');
  t.equal(tetragonPod(rec, INIT, 1).container!.name, 'init', 'init containers');
  t.same(tetragonPod(rec, SANDBOX, 1).container, { id: `containerd://${SANDBOX}`, pid: 1 }, 'the sandbox: the ID alone');
});

t.test('lookup by container ID; by pod UID only once the pod has settled (the sandbox)', async (t) => {
  const idx = new PodIndex();
  t.equal(idx.lookup({ id: C1, podUid: UID }), undefined, 'nothing known');
  // Starting: the kubelet has not reported the container yet.
  idx.upsert(pod(UID, { containerStatuses: [{ name: 'main', state: { waiting: {} } }] }));
  t.equal(idx.lookup({ id: C1, podUid: UID }), undefined, 'the pod is known, the container not yet: wait');
  t.equal(idx.lookup({ id: SANDBOX, podUid: UID }), undefined, 'nor the sandbox while a container waits');
  idx.upsert(pod());
  t.equal(idx.lookup({ id: C1 })?.pod.name, 'web-688c6cd6f7-mwvlk');
  t.equal(idx.lookup({ id: SANDBOX, podUid: UID })?.containerId, SANDBOX, 'settled: an unnamed container is the sandbox');
  t.equal(idx.lookup({ id: SANDBOX }), undefined, 'without a pod UID in its cgroup, no guess');
  t.equal(idx.pods, 1);
  t.equal(idx.containers, 3);
});

t.test('static pods: the cgroup carries the pod\'s own UID, its mirror the config hash', async (t) => {
  const idx = new PodIndex();
  const hash = 'e3b0c44298fc1c149afbf4c8996fb924';
  const mirror = pod('99999999-2222-3333-4444-555555555555', {}, 'etcd-node1');
  mirror.metadata!.annotations = { 'kubernetes.io/config.hash': hash };
  idx.upsert(mirror);
  t.equal(idx.lookup({ id: SANDBOX, podUid: hash })?.pod.name, 'etcd-node1');
});

t.test('a deleted pod is kept retainMs for late events, then forgotten; at most maxDeleted', async (t) => {
  const idx = new PodIndex(60_000, 2);
  idx.upsert(pod());
  idx.remove(pod(), 1000);
  t.equal(idx.lookup({ id: C1 })?.pod.name, 'web-688c6cd6f7-mwvlk', 'still named after deletion');
  t.equal(idx.pods, 0);
  t.equal(idx.deletedKept, 1);
  t.equal(idx.expire(60_999), 0);
  t.equal(idx.expire(61_000), 1);
  t.equal(idx.lookup({ id: C1 }), undefined);
  t.equal(idx.containers, 0);
  for (let i = 0; i < 5; i++) {
    const uid = `00000000-0000-0000-0000-00000000000${i}`;
    const p = pod(uid, { containerStatuses: [{ name: 'main', containerID: `containerd://${String(i).repeat(64)}` }], initContainerStatuses: [] });
    idx.upsert(p);
    idx.remove(p, 2000 + i);
  }
  t.equal(idx.deletedKept, 2, 'bounded');
  t.equal(idx.lookup({ id: '4'.repeat(64) })?.pod.uid, '00000000-0000-0000-0000-000000000004', 'the newest kept');
  t.equal(idx.lookup({ id: '0'.repeat(64) }), undefined, 'the oldest dropped');
});

t.test('after a relist, live pods the list does not name are the ones deleted meanwhile', async (t) => {
  const idx = new PodIndex();
  idx.upsert(pod());
  idx.upsert(pod('22222222-2222-3333-4444-555555555555', { containerStatuses: [] }, 'other'));
  t.same(idx.missing(new Set([UID])).map((r) => r.name), ['other']);
});

t.test('an update re-indexes the containers: a replaced container ID no longer names the pod', async (t) => {
  const idx = new PodIndex();
  idx.upsert(pod());
  const next = pod(UID, { containerStatuses: [{ name: 'main', containerID: `containerd://${'e'.repeat(64)}`, state: { running: {} } }] });
  idx.upsert(next);
  t.equal(idx.lookup({ id: C1 }), undefined);
  t.equal(idx.lookup({ id: 'e'.repeat(64) })?.pod.uid, UID);
});
