// Keeps the scope of every policy limited to pods equal to the cgroups of
// what it selects on this node (agent/scope/scopes.ts), from the pod watch
// (agent/k8s/) and from exec records:
//
//   a policy loads (scope added), a pod comes, goes or is relabelled
//     -> sync: each scope's map becomes exactly the cgroups of the live pods
//        (or, with a containerSelector, the containers) it selects
//   an exec record in a cgroup not seen before (exec())
//     -> its pod's cgroup is learned at once; if the watch already knows the
//        pod, the scopes are synced before the record is handled further
//
// A pod the watch names before the kubelet has made its cgroup (the usual
// order) enters its scopes at the first exec in it: the sandbox's, which
// comes before any container of the pod starts. Until the watch has listed
// the node's pods once, the scopes are left as they are (after a restart,
// the pinned scope maps keep what they held).
import type { Logger } from '../log.js';
import type { PodIndex } from '../k8s/pod-index.js';
import type { PodRecord } from '../k8s/pod-record.js';
import type { PodCgroups } from './pod-cgroups.js';
import type { PolicyScope, PolicyScopes } from './scopes.js';

/** When a pod's cgroup was first in reach of its scopes, by way of an exec record or of the watch (ms, Date.now()). */
export interface PodTiming {
  exec?: number;
  watch?: number;
}

export class ScopeSync {
  /** Cgroup ids exec records came from, already looked at. */
  private readonly seen = new Set<bigint>();
  private pending?: NodeJS.Immediate;
  private unsubscribe?: () => void;
  readonly stats = { syncs: 0, from_exec: 0 };
  /** Per pod UID; the newest 1024. */
  readonly timings = new Map<string, PodTiming>();

  /** fromExec false: only the watch (to measure what exec records win). */
  constructor(private readonly scopes: PolicyScopes, private readonly index: PodIndex, private readonly cgroups: PodCgroups,
    private readonly ready: () => boolean, private readonly log: Logger, private readonly fromExec = true) {}

  start(): void {
    this.unsubscribe = this.scopes.onChange((event, scope) => {
      if (event === 'added' && this.ready()) this.syncScope(scope, this.index.live());
    });
    this.syncAll();
  }

  /** The pod watch changed something: a sync once the current changes are in. */
  podsChanged(): void {
    this.pending ??= setImmediate(() => {
      this.pending = undefined;
      this.syncAll();
    });
  }

  /** An exec record's cgroup (its id, and path below the cgroup2 root when known). */
  exec(cgroupId: bigint, path: string | undefined): void {
    if (!this.fromExec || path === undefined || this.seen.has(cgroupId)) return;
    if (this.seen.size >= 65536) this.seen.clear();
    this.seen.add(cgroupId);
    const { uid, fresh } = this.cgroups.learn(path);
    if (!uid) return;
    this.time(uid, 'exec');
    // Known already: a walk found the pod's cgroup, and the scopes have it.
    if (!fresh || !this.ready() || !this.scopes.list().length) return;
    const pod = this.index.live().find((p) => p.uid === uid || p.configHash === uid);
    if (!pod) return;
    this.stats.from_exec++;
    this.syncAll();
  }

  /** Every scope made exactly what it selects now. */
  syncAll(): void {
    if (!this.ready()) return;
    const pods = this.index.live();
    const scopes = this.scopes.list();
    if (!scopes.length) return;
    for (const scope of scopes) this.syncScope(scope, pods);
  }

  private syncScope(scope: PolicyScope, pods: PodRecord[]): void {
    this.stats.syncs++;
    let ids = this.wanted(scope, pods);
    if (ids.missing) {
      this.cgroups.walk();
      ids = this.wanted(scope, pods);
    }
    for (const p of pods) if (this.cgroups.pod(p.configHash ?? p.uid) !== undefined) this.time(p.uid, 'watch');
    try {
      scope.replace(ids.ids);
    } catch (err) {
      this.log.warn({ err, policy: scope.policyName }, 'a policy scope could not be updated');
    }
  }

  /** The cgroup ids of what a scope selects among pods; missing: some selected one's cgroup is not known. */
  private wanted(scope: PolicyScope, pods: PodRecord[]): { ids: bigint[]; missing: boolean } {
    const ids: bigint[] = [];
    let missing = false;
    for (const p of pods) {
      if (!scope.matchesPod({ namespace: p.namespace, labels: p.base.pod_labels })) continue;
      if (scope.level === 'pod') {
        const id = this.cgroups.pod(p.configHash ?? p.uid);
        if (id === undefined) missing = true;
        else ids.push(id);
        continue;
      }
      for (const [cid, c] of p.containers) {
        if (!scope.matchesContainer({ name: c.name ?? '' })) continue;
        const id = this.cgroups.container(cid);
        if (id === undefined) missing = true;
        else ids.push(id);
      }
    }
    return { ids, missing };
  }

  private time(uid: string, via: keyof PodTiming): void {
    const t = this.timings.get(uid) ?? {};
    if (t[via] !== undefined) return;
    t[via] = Date.now();
    this.timings.set(uid, t);
    if (this.timings.size > 1024) this.timings.delete(this.timings.keys().next().value!);
  }

  status(): Record<string, unknown> {
    return {
      ...this.stats, ...this.cgroups.size, walks: this.cgroups.stats.walks, from_exec_enabled: this.fromExec,
      // The newest 32 pods: when each one's cgroup came in reach of the scopes, by each way.
      pod_timings_ms: Object.fromEntries([...this.timings].slice(-32)),
    };
  }

  stop(): void {
    if (this.pending) clearImmediate(this.pending);
    this.unsubscribe?.();
  }
}
