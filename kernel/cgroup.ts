// cgroup v2: where the unified hierarchy is mounted, and its cgroups' ids
// and levels. On hosts that mount cgroup v1 controllers, it sits beside
// them (often /sys/fs/cgroup/unified).
import { realpathSync, statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { VigilError } from './errors.js';
import { mounts } from './mounts.js';

/** The first cgroup2 mount; throws VIGIL_MOUNT when there is none. */
export function cgroup2Root(): string {
  const m = mounts().find((x) => x.type === 'cgroup2');
  if (!m) throw new VigilError('VIGIL_MOUNT', 'no cgroup2 file system is mounted', { hint: 'mount -t cgroup2 none /sys/fs/cgroup' });
  return m.target;
}

/** A cgroup v2 directory's id, as bpf_get_current_cgroup_id() gives it: the inode number of the directory (64-bit kernels). */
export function cgroupId(dir: string): bigint {
  return statSync(dir, { bigint: true }).ino;
}

/** A cgroup's level, as bpf_get_current_ancestor_cgroup_id() counts it: 0 for the root of the cgroup2 mount, 1 for its children… */
export function cgroupLevel(dir: string, root: string = cgroup2Root()): number {
  const rel = relative(realpathSync(root), realpathSync(dir));
  if (rel.startsWith('..')) throw new VigilError('VIGIL_SCOPE', `${dir} is not a cgroup under ${root}`);
  return rel === '' ? 0 : rel.split(sep).length;
}
