// Namespace inode numbers: of a process in /proc, and of the host (pid 1),
// which tells whether a process's namespace is the host's.
import { readlinkSync } from 'node:fs';

/** Tetragon's Namespaces field names, in the order of enum vigil_ns_type. */
export const NS_NAMES = ['uts', 'ipc', 'mnt', 'pid', 'pid_for_children', 'net', 'time', 'time_for_children', 'cgroup', 'user'] as const;

/** The /proc/PID/ns/ entry of each, in the same order. */
const PROC_NAMES = ['uts', 'ipc', 'mnt', 'pid', 'pid_for_children', 'net', 'time', 'time_for_children', 'cgroup', 'user'];

/** Inode numbers of a process's namespaces, by vigil_ns_type; 0 where unreadable. */
export function procNamespaces(pid: number): number[] {
  return PROC_NAMES.map((n) => {
    try {
      return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${n}`))?.[1] ?? 0);
    } catch {
      return 0;
    }
  });
}

let host: number[] | undefined;

/** The host's namespaces: pid 1's, read once; the agent's own where pid 1's cannot be read (the agent runs on the host). */
export function hostNamespaces(): number[] {
  if (!host) {
    const self = procNamespaces(process.pid);
    host = procNamespaces(1).map((inum, i) => inum || self[i]);
  }
  return host;
}
