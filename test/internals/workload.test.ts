// A pod's workload from its controller owner reference.
import t from 'tap';
import { workloadOf, type PodMeta } from '../../agent/k8s/workload.js';

const owned = (kind: string, name: string, extra: Partial<PodMeta> = {}): PodMeta => ({
  name: `${name}-x7k2p`, generateName: `${name}-`, ownerReferences: [{ kind, name, controller: true }], ...extra,
});

const table: [string, PodMeta, { name: string; kind: string }][] = [
  ['a Deployment\'s pod: its ReplicaSet minus the pod-template-hash',
    owned('ReplicaSet', 'web-688c6cd6f7', { labels: { app: 'web', 'pod-template-hash': '688c6cd6f7' } }), { name: 'web', kind: 'Deployment' }],
  ['a Deployment named with dashes', owned('ReplicaSet', 'my-api-v2-5d4f9b8c7', { labels: { 'pod-template-hash': '5d4f9b8c7' } }),
    { name: 'my-api-v2', kind: 'Deployment' }],
  ['a bare ReplicaSet (no pod-template-hash)', owned('ReplicaSet', 'cache'), { name: 'cache', kind: 'ReplicaSet' }],
  ['a ReplicaSet whose name does not end in the hash', owned('ReplicaSet', 'cache', { labels: { 'pod-template-hash': 'abc' } }),
    { name: 'cache', kind: 'ReplicaSet' }],
  ['a DaemonSet', owned('DaemonSet', 'node-exporter'), { name: 'node-exporter', kind: 'DaemonSet' }],
  ['a StatefulSet', { name: 'db-0', generateName: 'db-', ownerReferences: [{ kind: 'StatefulSet', name: 'db', controller: true }] },
    { name: 'db', kind: 'StatefulSet' }],
  ['a Job', owned('Job', 'migrate'), { name: 'migrate', kind: 'Job' }],
  ['a CronJob\'s Job: name-<scheduled minute>', owned('Job', 'backup-29012345'), { name: 'backup', kind: 'CronJob' }],
  ['a Job with a short number is no CronJob\'s', owned('Job', 'batch-42'), { name: 'batch-42', kind: 'Job' }],
  ['a bare pod', { name: 'debug' }, { name: 'debug', kind: 'Pod' }],
  ['owned without a controller reference', { name: 'p-1', generateName: 'p-', ownerReferences: [{ kind: 'ReplicaSet', name: 'r' }] },
    { name: 'p-1', kind: 'Pod' }],
  ['a static pod\'s mirror (owned by its Node, no generateName)',
    { name: 'etcd-node1', ownerReferences: [{ kind: 'Node', name: 'node1', controller: true }] }, { name: 'etcd-node1', kind: 'Pod' }],
];

t.test('workload and workload_kind from the controller reference', async (t) => {
  for (const [what, meta, want] of table) t.same(workloadOf(meta), want, what);
});
