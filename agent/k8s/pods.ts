// Kubernetes for the agent: the pod watch feeding the pod index. Every
// change is passed on (`changed`), so events waiting for a pod are retried,
// and counted for /metrics (agent/metrics/kubernetes.ts).
import type { Logger } from '../log.js';
import { PodIndex } from './pod-index.js';
import { PodWatch, type K8sState, type PodWatchSink, type PodWatchTiming } from './pod-watch.js';
import type { PodObject } from './pod-record.js';
import type { K8sSource } from './source.js';
import { kubernetesWatch, type WatchState } from '../metrics/kubernetes.js';

/** The pod watch's states as /metrics names them (vigil_kubernetes_watch_state). */
const WATCH_STATE: Record<K8sState, WatchState> = { connecting: 'syncing', connected: 'synced', retrying: 'failed', forbidden: 'failed' };

export class KubernetesPods implements PodWatchSink {
  readonly index = new PodIndex();
  /** The watch has listed the node's pods at least once: the index holds all of them, not only those seen so far. */
  listedOnce = false;
  private readonly watch: PodWatch;

  constructor(source: K8sSource, nodeName: string, log: Logger, private readonly changed: () => void, timing?: PodWatchTiming) {
    this.watch = new PodWatch(source, nodeName, log, this, timing);
    kubernetesWatch.setState(WATCH_STATE[this.watch.state]);
  }

  start(): Promise<void> {
    return this.watch.start();
  }

  /** Whether an event may wait for its pod: not while the API refuses the agent. */
  get mayWait(): boolean {
    return this.watch.state !== 'forbidden';
  }

  upsert(pod: PodObject): void {
    kubernetesWatch.event();
    this.index.upsert(pod);
    this.changed();
  }

  remove(pod: PodObject): void {
    kubernetesWatch.event();
    this.index.remove(pod, Date.now());
    this.changed();
  }

  listed(pods: PodObject[]): void {
    this.listedOnce = true;
    const now = Date.now();
    for (const rec of this.index.missing(new Set(pods.map((p) => p.metadata?.uid ?? '')))) this.index.markDeleted(rec, now);
    this.changed();
  }

  state(state: K8sState): void {
    kubernetesWatch.setState(WATCH_STATE[state]);
    if (state === 'retrying' || state === 'forbidden') kubernetesWatch.error(state === 'forbidden' ? 'forbidden' : 'watch_failed');
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
    kubernetesWatch.setState('disabled');
  }
}
