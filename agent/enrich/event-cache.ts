// Events of processes waiting for their pod, as Tetragon's event cache
// keeps them: a process in a pod's container may exec before the API
// server has told the agent about the pod, or before the kubelet has
// reported the container's ID. Its events wait here, in arrival order, and
// are retried whenever the pod index changes (and every second). One that
// waited `waitMs` goes out without its pod and is counted; so does the
// oldest when `limit` events wait, and what waits when the agent stops.
import type { ProcessNode } from '../process/cache.js';
import type { TetragonEvent } from '../../exporters/tetragon.js';
import { refreshProcesses, type PodEnricher } from './pods.js';

interface Held {
  ev: TetragonEvent;
  nodes: ProcessNode[];
  until: number;
}

export class EventCache {
  private held: Held[] = [];
  readonly stats = { waited: 0, resolved: 0, timed_out: 0, overflowed: 0, flushed_at_stop: 0 };

  constructor(
    private readonly pods: PodEnricher,
    private readonly emit: (ev: TetragonEvent) => void,
    readonly waitMs = 30_000,
    readonly limit = 8192,
  ) {}

  get size(): number {
    return this.held.length;
  }

  /** Attaches the pods known for the event's processes; true when one of them waits for its pod. */
  waits(nodes: ProcessNode[]): boolean {
    let wait = false;
    for (const n of nodes) if (this.pods.attach(n)) wait = true;
    return wait;
  }

  /** Emits the event (built after waits()) now, or keeps it while one of its processes waits. */
  offer(ev: TetragonEvent, nodes: ProcessNode[], wait: boolean, now = Date.now()): void {
    if (!wait || this.waitMs === 0) {
      this.emit(ev);
      return;
    }
    if (this.held.length >= this.limit) {
      this.stats.overflowed++;
      this.release(this.held.shift()!);
    }
    this.stats.waited++;
    this.held.push({ ev, nodes, until: now + this.waitMs });
  }

  /** Emits what no longer waits, and what waited too long (without its pod). */
  retry(now = Date.now()): void {
    if (!this.held.length) return;
    const keep: Held[] = [];
    for (const h of this.held) {
      if (!this.waits(h.nodes)) {
        this.stats.resolved++;
        this.release(h);
      } else if (h.until <= now) {
        this.stats.timed_out++;
        this.release(h);
      } else {
        keep.push(h);
      }
    }
    this.held = keep;
  }

  /** At stop: everything out, as it is. */
  flush(): void {
    for (const h of this.held) {
      if (this.waits(h.nodes)) this.stats.flushed_at_stop++;
      else this.stats.resolved++;
      this.release(h);
    }
    this.held = [];
  }

  private release(h: Held): void {
    refreshProcesses(h.ev, h.nodes);
    this.emit(h.ev);
  }

  status(): Record<string, unknown> {
    return { waiting: this.held.length, wait_ms: this.waitMs, limit: this.limit, ...this.stats };
  }
}
