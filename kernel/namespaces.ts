// Linux namespace types, as TracingPolicies name them, and the host's
// namespaces: the inode numbers of /proc/2/ns/* when pid 2 is kthreadd (a
// kernel thread, always in the initial namespaces), else of /proc/1/ns/*.
import { readFileSync, statSync } from 'node:fs';
import { VigilError } from './errors.js';

/** In the bit order of the kernel side (enum vigil_ns_type). */
export const NAMESPACE_TYPES = ['Uts', 'Ipc', 'Mnt', 'Pid', 'PidForChildren', 'Net', 'Time', 'TimeForChildren', 'Cgroup', 'User'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

const FILES: Record<NamespaceType, string> = {
  Uts: 'uts', Ipc: 'ipc', Mnt: 'mnt', Pid: 'pid', PidForChildren: 'pid_for_children', Net: 'net',
  Time: 'time', TimeForChildren: 'time_for_children', Cgroup: 'cgroup', User: 'user',
};

function kthreadd(): boolean {
  try {
    return readFileSync('/proc/2/comm', 'utf8').trim() === 'kthreadd';
  } catch {
    return false;
  }
}

export function hostNamespace(type: NamespaceType): number {
  const errors: string[] = [];
  for (const pid of kthreadd() ? [2, 1] : [1]) {
    const path = `/proc/${pid}/ns/${FILES[type]}`;
    try {
      return statSync(path).ino;
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message}`);
    }
  }
  throw new VigilError('VIGIL_NOT_SUPPORTED', `host_ns for ${type}: cannot read the host's namespace (${errors.join('; ')})`);
}
