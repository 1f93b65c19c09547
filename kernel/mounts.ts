// Mounted file systems (/proc/mounts) and mounting the ones Vigil needs:
// bpffs, tracefs, cgroup2. mount(2) is called directly, so no mount(8)
// binary is needed.
import { readFileSync } from 'node:fs';
import { VigilError } from './errors.js';
import { describeError, errno, libc_ } from './bpf/libbpf.js';

export interface Mount {
  source: string;
  target: string;
  type: string;
}

/** /proc/mounts writes spaces and other bytes in paths as octal escapes. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function mounts(): Mount[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n').filter(Boolean).map((l) => {
    const [source, target, type] = l.split(' ');
    return { source: unescape(source), target: unescape(target), type };
  });
}

export const isMounted = (type: string, target: string): boolean => mounts().some((m) => m.type === type && m.target === target);

/** Mounts a pseudo file system (bpf, tracefs, cgroup2) at target; throws VIGIL_MOUNT with what to run instead. */
export function mountFs(type: string, target: string, why: string): void {
  if (libc_.mount(type, target, type, 0, null) === 0) return;
  throw new VigilError('VIGIL_MOUNT', `${why} is not mounted at ${target} and mounting it failed: ${describeError(-errno())}`, {
    hint: `run: mount -t ${type} ${type} ${target}`,
  });
}

export function unmountFs(target: string): void {
  libc_.umount(target);
}
