// cgroup v2: where the unified hierarchy is mounted, its cgroups' ids and
// levels, and the path of a cgroup by its id. On hosts that mount cgroup v1
// controllers, the unified hierarchy sits beside them (often
// /sys/fs/cgroup/unified).
import { closeSync, openSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { VigilError } from './errors.js';
import { mounts } from './mounts.js';
import { errno, libc_ } from './bpf/libbpf.js';

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

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
/** include/linux/exportfs.h: a kernfs node's 64-bit id as a file handle. */
const FILEID_KERNFS = 0xfe;
const ESTALE = 116;

/**
 * cgroup v2 paths by cgroup id (what bpf_get_current_cgroup_id() gives):
 * open_by_handle_at() on the cgroup2 mount with the id as a kernfs file
 * handle, then readlink of /proc/self/fd/N. Ids are never reused while the
 * kernel runs, so answers are cached (a bounded number). Needs
 * CAP_DAC_READ_SEARCH.
 */
export class CgroupPaths {
  readonly stats = { lookups: 0, gone: 0, failed: 0 };
  /** Why lookups cannot work here, once known. */
  problem?: string;
  /** The cgroup2 mount, once open(). */
  root = '';
  private rootFd = -1;
  private readonly cache = new Map<bigint, string | null>();
  private readonly handle = Buffer.alloc(16);

  constructor(private readonly limit = 4096) {}

  /** Opens the cgroup2 mount; false (with `problem` set) when there is none. */
  open(): boolean {
    try {
      this.root = cgroup2Root();
      this.rootFd = openSync(this.root, 'r');
      return true;
    } catch (err) {
      this.problem = (err as Error).message;
      return false;
    }
  }

  get size(): number {
    return this.cache.size;
  }

  /** The cgroup's path below the cgroup2 mount ("/" for the root); undefined when it is gone or cannot be looked up. */
  path(id: bigint): string | undefined {
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit ?? undefined;
    if (this.rootFd < 0) return undefined;
    const path = this.lookup(id);
    if (this.cache.size >= this.limit) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, path ?? null);
    return path;
  }

  private lookup(id: bigint): string | undefined {
    this.stats.lookups++;
    this.handle.writeUInt32LE(8, 0);
    this.handle.writeInt32LE(FILEID_KERNFS, 4);
    this.handle.writeBigUInt64LE(id, 8);
    const fd = libc_.openByHandleAt(this.rootFd, this.handle, O_PATH | O_CLOEXEC) as number;
    if (fd < 0) {
      const e = errno();
      if (e === ESTALE) this.stats.gone++;
      else {
        this.stats.failed++;
        this.problem ??= `open_by_handle_at on ${this.root}: errno ${e}`;
      }
      return undefined;
    }
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(this.root) ? target.slice(this.root.length) || '/' : undefined;
    } catch {
      this.stats.failed++;
      return undefined;
    } finally {
      libc_.close(fd);
    }
  }

  close(): void {
    if (this.rootFd >= 0) closeSync(this.rootFd);
    this.rootFd = -1;
  }
}

/**
 * The paths of /proc/<pid>/cgroup, unified (v2, "0::") first, then each v1
 * hierarchy's; duplicates once.
 */
export function procCgroupPaths(text: string): string[] {
  const v2: string[] = [];
  const v1: string[] = [];
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    (line.slice(0, a) === '0' && b === a + 1 ? v2 : v1).push(line.slice(b + 1));
  }
  return [...new Set([...v2, ...v1])];
}
