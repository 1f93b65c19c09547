// The container a process runs in, from its cgroup: the exec record's
// cgroup id resolved to its cgroup v2 path (kernel/cgroup.ts), or the paths
// of /proc/<pid>/cgroup for processes found at start and on hosts without
// cgroup2; then the runtime's naming (kernel/container-id.ts).
import { readFileSync } from 'node:fs';
import { CgroupPaths, procCgroupPaths } from '../../kernel/cgroup.js';
import { parseCgroupContainer, type CgroupContainer } from '../../kernel/container-id.js';

export class ContainerResolver {
  private readonly paths = new CgroupPaths();
  private readonly byCgroup = new Map<bigint, CgroupContainer | null>();
  private v2 = false;

  constructor(private readonly limit = 4096) {}

  open(): void {
    this.v2 = this.paths.open();
  }

  /** At exec: by the cgroup id; without cgroup2, by /proc/<pid>/cgroup while the process lives. */
  ofExec(cgroupId: bigint, pid: number): CgroupContainer | undefined {
    if (!this.v2) return this.ofPid(pid);
    const hit = this.byCgroup.get(cgroupId);
    if (hit !== undefined) return hit ?? undefined;
    const path = this.paths.path(cgroupId);
    const c = path === undefined ? undefined : parseCgroupContainer(path);
    // A cgroup that was already gone is not cached: the next exec may find it by /proc.
    if (path === undefined) return this.ofPid(pid);
    if (this.byCgroup.size >= this.limit) this.byCgroup.delete(this.byCgroup.keys().next().value!);
    this.byCgroup.set(cgroupId, c ?? null);
    return c;
  }

  /** A cgroup's path below the cgroup2 root, by its id (cached); undefined without cgroup2 or once it is gone. */
  pathOf(cgroupId: bigint): string | undefined {
    return this.v2 ? this.paths.path(cgroupId) : undefined;
  }

  /** The cgroup2 mount it resolves ids on; undefined without one. */
  cgroup2Root(): string | undefined {
    return this.v2 ? this.paths.root : undefined;
  }

  /** From /proc/<pid>/cgroup: the first of its paths (unified first) that names a container. */
  ofPid(pid: number): CgroupContainer | undefined {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
    return this.ofPaths(procCgroupPaths(text));
  }

  ofPaths(paths: string[]): CgroupContainer | undefined {
    for (const p of paths) {
      const c = parseCgroupContainer(p);
      if (c) return c;
    }
    return undefined;
  }

  stats(): Record<string, unknown> {
    return { cgroup_v2: this.v2, cgroups_known: this.byCgroup.size, ...this.paths.stats, ...(this.paths.problem ? { problem: this.paths.problem } : {}) };
  }

  close(): void {
    this.paths.close();
  }
}
