// cgroup v2: where the unified hierarchy is mounted. On hosts that mount
// cgroup v1 controllers, it sits beside them (often /sys/fs/cgroup/unified).
import { VigilError } from './errors.js';
import { mounts } from './mounts.js';

/** The first cgroup2 mount; throws VIGIL_MOUNT when there is none. */
export function cgroup2Root(): string {
  const m = mounts().find((x) => x.type === 'cgroup2');
  if (!m) throw new VigilError('VIGIL_MOUNT', 'no cgroup2 file system is mounted', { hint: 'mount -t cgroup2 none /sys/fs/cgroup' });
  return m.target;
}
