// The process cache: parents, ancestry, eviction once nothing refers to a
// node, and bounded memory.
import t from 'tap';
import { ProcessCache } from '../../agent/process/cache.js';
import type { ProcessImage } from '../../agent/decode/records.js';

const creds = { uid: 0, gid: 0, suid: 0, sgid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0 };
const caps = { permitted: 0n, effective: 0n, inheritable: 0n };

function img(pid: number, ktime: bigint, parent?: [number, bigint]): ProcessImage {
  return {
    proc: { pid, ktime }, parent: parent && { pid: parent[0], ktime: parent[1] }, tid: pid, auid: 0, nspid: pid, flags: 1,
    creds, caps, cgroupId: 0n, binary: `/bin/p${pid}`, args: [`p${pid}`, 'x'], cwd: '/',
  };
}
const exit = (pid: number, ktime: bigint) => ({ op: 'exit' as const, ktime: 0n, cpu: 0, proc: { pid, ktime }, tid: pid, code: 0 });

t.test('exec ids are base64 of node:ktime:pid and parents link up', async (t) => {
  const c = new ProcessCache('n1');
  const a = c.addImage(img(1, 10n));
  const b = c.addImage(img(2, 20n, [1, 10n]));
  const d = c.addImage(img(3, 30n, [2, 20n]));
  t.equal(Buffer.from(a.execId, 'base64').toString(), 'n1:10:1');
  t.equal(d.json.parent_exec_id, b.execId);
  t.same(c.ancestors(d).map((n) => n.pid), [2, 1]);
  t.equal(d.json.arguments, 'x');
});

t.test('an exited process stays while a child refers to it, then goes', async (t) => {
  const c = new ProcessCache('n');
  c.addImage(img(1, 10n));
  const parent = c.addImage(img(2, 20n, [1, 10n]));
  const child = c.addImage(img(3, 30n, [2, 20n]));
  c.exit(exit(2, 20n));
  t.ok(c.byExecId(parent.execId), 'parent kept for its child');
  t.equal(c.byPid(2), undefined, 'but no longer current for its pid');
  c.exit(exit(3, 30n));
  t.equal(c.byExecId(child.execId), undefined);
  t.equal(c.byExecId(parent.execId), undefined, 'parent evicted with its last child');
  t.equal(c.size, 1);
});

t.test('an exec replaces the image of its pid', async (t) => {
  const c = new ProcessCache('n');
  c.addImage(img(1, 10n));
  const first = c.addImage(img(5, 50n, [1, 10n]));
  const second = c.addImage(img(5, 60n, [1, 10n]));
  t.equal(c.byPid(5), second);
  t.equal(c.byExecId(first.execId), undefined);
});

t.test('memory stays bounded when exited processes are still referenced', async (t) => {
  const c = new ProcessCache('n', 100);
  c.addImage(img(1, 1n));
  for (let i = 2; i < 1000; i++) {
    c.addImage(img(i, BigInt(i), [i - 1, BigInt(i - 1)]));
    c.exit(exit(i - 1, BigInt(i - 1)));
  }
  t.ok(c.size <= 100, `size ${c.size}`);
  t.ok(c.stats.forcedEvictions > 0);
});

t.test('a clone inherits its parent image and exits on its own', async (t) => {
  const c = new ProcessCache('n');
  const p = c.addImage(img(1, 10n));
  const clone = c.addClone({ op: 'clone', ktime: 0n, cpu: 0, proc: { pid: 9, ktime: 90n }, parent: { pid: 1, ktime: 10n }, tid: 9, flags: 2 })!;
  t.equal(clone.json.binary, p.json.binary);
  t.equal(clone.json.flags, 'clone');
  t.equal(clone.json.parent_exec_id, p.execId);
  t.equal(c.exit(exit(9, 0n)), clone, 'found by pid when the kernel had no ktime');
});
