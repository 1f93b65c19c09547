// host_ns in matchNamespaces: the host's namespaces, as the inode numbers
// of /proc/2/ns/* when pid 2 is kthreadd (a kernel thread, always in the
// initial namespaces), else of /proc/1/ns/* (init).
import { readFileSync, statSync } from 'node:fs';
import { VigilError } from '../../agent/errors.js';
import type { NamespaceType } from './plan.js';

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
