// The cgroup v2 ids of this node's pods and containers, by pod UID and
// container ID, for the scopes of policies limited to pods. Two sources:
//
//   learn(path)  the cgroup of an exec record (agent.ts): a container's
//                first process names its container and its pod the moment
//                it starts, before any pod watch says so
//   walk()       a walk of the kubelet's cgroups (kubepods, kubepods.slice)
//                for a pod the watch names whose cgroup was not seen yet
//
// Pod cgroups are made by the kubelet before any container of the pod, so
// the sandbox's first exec puts a selected pod in scope before its own
// containers start.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupId } from '../../kernel/cgroup.js';
import { containerOf, podUidOf } from '../../kernel/container-id.js';

/** Below the cgroup2 root: kubepods[.slice] / qos / pod / container, and a little room. */
const WALK_DEPTH = 5;
/** Pods, and containers, whose cgroups are kept. */
const MAX_KNOWN = 4096;

export class PodCgroups {
  private readonly pods = new Map<string, bigint>();
  private readonly containers = new Map<string, bigint>();
  readonly stats = { learned: 0, walks: 0 };

  constructor(private readonly root: string) {}

  /**
   * A cgroup path below the cgroup2 root ("/kubepods/besteffort/pod<uid>/<id>"):
   * records its pod's and its container's cgroup ids. Returns the pod's UID,
   * and whether its cgroup was not known before.
   */
  learn(path: string): { uid?: string; fresh: boolean } {
    const parts = path.split('/').filter(Boolean);
    let uid: string | undefined;
    let fresh = false;
    for (let i = 0; i < parts.length; i++) {
      const dir = join(this.root, ...parts.slice(0, i + 1));
      const podUid = uid === undefined ? podUidOf(parts[i]) : undefined;
      if (podUid) {
        uid = podUid;
        if (!this.pods.has(podUid) && this.record(this.pods, podUid, dir)) fresh = true;
        continue;
      }
      const c = uid !== undefined ? containerOf(parts[i]) : undefined;
      if (c && !this.containers.has(c.id)) this.record(this.containers, c.id, dir);
      if (c) break;
    }
    return { uid, fresh };
  }

  /** The pod's cgroup id, when seen (learn(), walk()). */
  pod(uid: string): bigint | undefined {
    return this.pods.get(uid);
  }

  /** A container's cgroup id, when seen. */
  container(id: string): bigint | undefined {
    return this.containers.get(id);
  }

  get size(): { pods: number; containers: number } {
    return { pods: this.pods.size, containers: this.containers.size };
  }

  private record(into: Map<string, bigint>, key: string, dir: string): boolean {
    try {
      const id = cgroupId(dir);
      // Bounded: the oldest go first; a pod still selected is found again by a walk.
      if (into.size >= MAX_KNOWN) into.delete(into.keys().next().value!);
      into.set(key, id);
      this.stats.learned++;
      return true;
    } catch {
      return false; // gone already
    }
  }

  /** Learns every pod and container cgroup under the kubelet's roots. */
  walk(): void {
    this.stats.walks++;
    const visit = (rel: string, depth: number): void => {
      let names: string[];
      try {
        names = readdirSync(join(this.root, rel), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch {
        return;
      }
      for (const n of names) {
        const child = `${rel}/${n}`;
        this.learn(child);
        if (depth < WALK_DEPTH && !containerOf(n)) visit(child, depth + 1);
      }
    };
    for (const top of ['kubepods', 'kubepods.slice']) if (existsSync(join(this.root, top))) visit(`/${top}`, 1);
  }
}
