// Kubernetes for the agent: the pod watch feeding the pod index. Every
// change is passed on (`changed`), so events waiting for a pod are retried.
import type { Logger } from '../log.js';
import { PodIndex } from './pod-index.js';
import { PodWatch, type K8sState, type PodWatchSink, type PodWatchTiming } from './pod-watch.js';
import type { PodObject } from './pod-record.js';
import type { K8sSource } from './source.js';

export class KubernetesPods implements PodWatchSink {
  readonly index = new PodIndex();
  private readonly watch: PodWatch;

  constructor(source: K8sSource, nodeName: string, log: Logger, private readonly changed: () => void, timing?: PodWatchTiming) {
    this.watch = new PodWatch(source, nodeName, log, this, timing);
  }

  start(): Promise<void> {
    return this.watch.start();
  }

  /** Whether an event may wait for its pod: not while the API refuses the agent. */
  get mayWait(): boolean {
    return this.watch.state !== 'forbidden';
  }

  upsert(pod: PodObject): void {
    this.index.upsert(pod);
    this.changed();
  }

  remove(pod: PodObject): void {
    this.index.remove(pod, Date.now());
    this.changed();
  }

  listed(pods: PodObject[]): void {
    const now = Date.now();
    for (const rec of this.index.missing(new Set(pods.map((p) => p.metadata?.uid ?? '')))) this.index.markDeleted(rec, now);
  }

  state(_: K8sState): void {
    this.changed();
  }

  expire(now: number): void {
    this.index.expire(now);
  }

  status(): Record<string, unknown> {
    return { ...this.watch.status(), pods: this.index.pods, deleted_pods_kept: this.index.deletedKept, containers: this.index.containers };
  }

  stop(): void {
    this.watch.stop();
  }
}
