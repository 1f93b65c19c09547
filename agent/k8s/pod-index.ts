// The pods of this node, by container ID and by pod UID, as the informer
// reports them. A deleted pod is kept `retainMs` (60 s) so that late
// events, such as the exit of its last process, still name it; at most
// `maxDeleted` of them, the oldest dropped first.
import type { CgroupContainer } from '../../kernel/container-id.js';
import { podRecord, type PodObject, type PodRecord } from './pod-record.js';

export interface PodMatch {
  pod: PodRecord;
  /** The container's ID (64 hex digits). */
  containerId: string;
}

export class PodIndex {
  private readonly byUid = new Map<string, PodRecord>();
  /** Static pods by their own UID (the cgroup's), which differs from their mirror's. */
  private readonly byConfigHash = new Map<string, PodRecord>();
  private readonly byContainer = new Map<string, PodRecord>();
  /** Deleted pods in deletion order. */
  private readonly deleted = new Set<PodRecord>();

  constructor(readonly retainMs = 60_000, readonly maxDeleted = 1024) {}

  get pods(): number {
    return this.byUid.size - this.deleted.size;
  }

  get deletedKept(): number {
    return this.deleted.size;
  }

  get containers(): number {
    return this.byContainer.size;
  }

  /** A pod was added or changed. */
  upsert(pod: PodObject): PodRecord {
    const rec = podRecord(pod);
    const old = this.byUid.get(rec.uid);
    if (old) this.unindex(old);
    this.byUid.set(rec.uid, rec);
    if (rec.configHash) this.byConfigHash.set(rec.configHash, rec);
    for (const id of rec.containers.keys()) this.byContainer.set(id, rec);
    return rec;
  }

  /** A pod was deleted: kept until now + retainMs. */
  remove(pod: PodObject, now: number): void {
    const uid = pod.metadata?.uid ?? '';
    // The final object names its containers best; the kept record is built from it.
    if (this.byUid.has(uid) || pod.status) this.markDeleted(this.upsert(pod), now);
  }

  /** Keeps a pod's record until now + retainMs, as deleted. */
  markDeleted(rec: PodRecord, now: number): void {
    if (rec.deletedAt !== undefined) return;
    rec.deletedAt = now;
    this.deleted.add(rec);
    for (const r of this.deleted) {
      if (this.deleted.size <= this.maxDeleted) break;
      this.unindex(r);
    }
  }

  /** The pods not deleted. */
  live(): PodRecord[] {
    return [...this.byUid.values()].filter((r) => r.deletedAt === undefined);
  }

  /** Live pods that `uids` does not name: gone while the watch was down. */
  missing(uids: Set<string>): PodRecord[] {
    return [...this.byUid.values()].filter((r) => r.deletedAt === undefined && !uids.has(r.uid));
  }

  /** Forgets deleted pods kept past their time; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const r of this.deleted) {
      if (r.deletedAt! + this.retainMs > now) break;
      this.unindex(r);
      n++;
    }
    return n;
  }

  /**
   * The pod of a container: by its ID, or by the pod UID of its cgroup when
   * the pod is settled (the container is then its sandbox). Undefined when
   * no pod is known for it, or not yet for this container.
   */
  lookup(c: CgroupContainer): PodMatch | undefined {
    const pod = this.byContainer.get(c.id);
    if (pod) return { pod, containerId: c.id };
    const byUid = c.podUid ? this.byUid.get(c.podUid) ?? this.byConfigHash.get(c.podUid) : undefined;
    return byUid?.settled ? { pod: byUid, containerId: c.id } : undefined;
  }

  private unindex(rec: PodRecord): void {
    for (const id of rec.containers.keys()) if (this.byContainer.get(id) === rec) this.byContainer.delete(id);
    if (this.byUid.get(rec.uid) === rec) this.byUid.delete(rec.uid);
    if (rec.configHash && this.byConfigHash.get(rec.configHash) === rec) this.byConfigHash.delete(rec.configHash);
    this.deleted.delete(rec);
  }
}
