// cgroup ids to cgroup v2 paths (open_by_handle_at with a kernfs handle),
// and the paths of /proc/<pid>/cgroup.
import t from 'tap';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupPaths, cgroup2Root, procCgroupPaths } from '../../kernel/cgroup.js';

t.test('a cgroup id resolves to its path below the cgroup2 mount; a removed one to nothing', async (t) => {
  const paths = new CgroupPaths();
  t.ok(paths.open(), paths.problem ?? 'cgroup2 is mounted');
  t.teardown(() => paths.close());
  const root = cgroup2Root();
  const rel = `/vigil-test-${process.pid}/kubepods/pod1`;
  mkdirSync(join(root, rel), { recursive: true });
  const id = statSync(join(root, rel), { bigint: true }).ino;
  t.equal(paths.path(id), rel);
  t.equal(paths.path(statSync(root, { bigint: true }).ino), '/', 'the root');
  const gone = statSync(join(root, `/vigil-test-${process.pid}/kubepods`), { bigint: true }).ino;
  rmdirSync(join(root, rel));
  rmdirSync(join(root, `/vigil-test-${process.pid}/kubepods`));
  rmdirSync(join(root, `/vigil-test-${process.pid}`));
  t.equal(paths.path(gone), undefined, 'a removed cgroup');
  t.equal(paths.stats.gone, 1);
  t.equal(paths.path(id), rel, 'answers are cached by id');
  t.equal(paths.stats.lookups, 3);
});

t.test('/proc/<pid>/cgroup: the unified path first, then the v1 ones, each once', async (t) => {
  const text = [
    '9:name=systemd:/kubepods/besteffort/podA/c1',
    '4:memory:/kubepods/besteffort/podA/c1',
    '1:cpu,cpuacct:/kubepods/besteffort/podA/c1',
    '0::/kubepods/besteffort/podA/c1',
    '',
  ].join('\n');
  t.same(procCgroupPaths(text), ['/kubepods/besteffort/podA/c1']);
  t.same(procCgroupPaths('0::/\n3:memory:/docker/x\n'), ['/', '/docker/x']);
  t.same(procCgroupPaths('0::/system.slice/containerd.service\n'), ['/system.slice/containerd.service']);
});
