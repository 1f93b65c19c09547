// Events of processes whose pod is not known yet: held in order, released
// with their pod once it is, without it after the wait (counted), the
// oldest out first when full; host processes never wait.
import t from 'tap';
import { ProcessCache } from '../../agent/process/cache.js';
import type { ExecRecord } from '../../agent/decode/records.js';
import { PodIndex } from '../../agent/k8s/pod-index.js';
import { PodEnricher, eventNodes } from '../../agent/enrich/pods.js';
import { EventCache } from '../../agent/enrich/event-cache.js';
import { execEvent } from '../../agent/enrich/process-events.js';
import type { TetragonEvent } from '../../exporters/tetragon.js';
import type { CgroupContainer } from '../../kernel/container-id.js';

const UID = '11111111-2222-3333-4444-555555555555';
const CID = 'a'.repeat(64);
const zeroCaps = { permitted: 0n, effective: 0n, inheritable: 0n };
const creds = { uid: 0, gid: 0, suid: 0, sgid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0 };

function exec(pid: number, ppid: number): ExecRecord {
  return {
    op: 'exec', ktime: BigInt(pid) * 1000n, cpu: 0, proc: { pid, ktime: BigInt(pid) * 1000n }, parent: { pid: ppid, ktime: BigInt(ppid) * 1000n },
    tid: pid, auid: 0, nspid: pid - 100, flags: 1, creds, caps: zeroCaps, cgroupId: 1n, binary: '/bin/sh', args: ['sh'], cwd: '/',
  };
}

const podObject = (containerId: string | undefined) => ({
  metadata: { name: 'web', namespace: 'shop', uid: UID },
  status: { containerStatuses: [{ name: 'main', ...(containerId ? { containerID: `containerd://${containerId}` } : {}), state: containerId ? { running: {} } : { waiting: {} } }] },
});

function setup(opts: { waitMs?: number; limit?: number; mayWait?: boolean } = {}) {
  const cache = new ProcessCache('node');
  const index = new PodIndex();
  const out: TetragonEvent[] = [];
  const held = new EventCache(new PodEnricher(index, () => opts.mayWait ?? true), (ev) => out.push(ev), opts.waitMs ?? 1000, opts.limit ?? 100);
  const container: CgroupContainer = { id: CID, podUid: UID };
  /** c: the process's container; null for a host process. */
  const run = (pid: number, ppid: number, c: CgroupContainer | null = container, now = 0) => {
    const node = cache.addExec(exec(pid, ppid), c ?? undefined);
    const nodes = eventNodes(cache, node);
    const wait = held.waits(nodes);
    held.offer(execEvent(cache, node, 'T', false), nodes, wait, now);
    return node;
  };
  return { cache, index, out, held, run };
}

t.test('an exec before its pod is known waits, then goes out with it; its children in order', async (t) => {
  const { index, out, held, run } = setup();
  run(200, 1);
  run(201, 200);
  t.equal(out.length, 0, 'both wait');
  index.upsert(podObject(undefined));
  held.retry(10);
  t.equal(out.length, 0, 'the pod is known, its container not yet reported');
  index.upsert(podObject(CID));
  held.retry(20);
  t.same(out.map((e) => e.process_exec!.process.pid), [200, 201], 'arrival order');
  t.same(out[0].process_exec!.process.pod?.container, { id: `containerd://${CID}`, name: 'main', pid: 100 });
  t.equal(out[1].process_exec!.parent?.pod?.name, 'web', 'the parent, in the pod too');
  t.equal(out[1].process_exec!.process.pod?.container?.pid, 101);
  t.match(held.status(), { waiting: 0, waited: 2, resolved: 2, timed_out: 0 });
  run(202, 201);
  t.equal(out.at(-1)!.process_exec!.process.pod?.name, 'web', 'once known, no wait');
  t.equal(held.stats.waited, 2);
});

t.test('a host process never waits; nor one without a pod UID in its cgroup', async (t) => {
  const { out, held, run } = setup();
  run(300, 1, null);
  run(301, 1, { id: CID });
  t.equal(out.length, 2);
  t.equal(out[1].process_exec!.process.pod, undefined);
  t.equal(held.stats.waited, 0);
});

t.test('past the wait: out without the pod, counted', async (t) => {
  const { out, held, run } = setup({ waitMs: 1000 });
  run(400, 1, null, 0);
  run(401, 1, null, 0);
  const c = { id: CID, podUid: UID };
  run(402, 1, c, 0);
  run(403, 1, c, 500);
  held.retry(999);
  t.equal(out.length, 2, 'the host processes');
  held.retry(1000);
  t.same(out.map((e) => e.process_exec!.process.pid), [400, 401, 402]);
  t.equal(out[2].process_exec!.process.pod, undefined);
  held.retry(1500);
  t.match(held.status(), { waiting: 0, timed_out: 2 });
});

t.test('bounded: when full, the oldest goes out first, counted', async (t) => {
  const { out, held, run } = setup({ limit: 3 });
  for (let pid = 500; pid < 505; pid++) run(pid, 1);
  t.same(out.map((e) => e.process_exec!.process.pid), [500, 501]);
  t.match(held.status(), { waiting: 3, overflowed: 2 });
  held.flush();
  t.equal(out.length, 5);
  t.equal(held.stats.flushed_at_stop, 3);
});

t.test('an API that refuses the agent: nothing waits', async (t) => {
  const { out, held, run } = setup({ mayWait: false });
  run(600, 1);
  t.equal(out.length, 1);
  t.equal(held.stats.waited, 0);
});
