// The Kubernetes pod watch's state, for /metrics: the pod enrichment
// (agent/k8s/) calls these; until it does, the state is "disabled".
// Names as Tetragon's: tetragon_watcher_events_total, tetragon_watcher_errors_total.
import { Counter, Gauge, type Registry } from 'prom-client';

export const WATCH_STATES = ['disabled', 'syncing', 'synced', 'failed'] as const;
export type WatchState = (typeof WATCH_STATES)[number];

let state: WatchState = 'disabled';
const events = new Map<string, number>();
const errors = new Map<string, number>();

export const kubernetesWatch = {
  /** The watch started, synced its cache, or lost the API server. */
  setState(s: WatchState): void {
    state = s;
  },
  /** One event of a watcher (pods, …). */
  event(watcher = 'k8s'): void {
    events.set(watcher, (events.get(watcher) ?? 0) + 1);
  },
  error(error: string, watcher = 'k8s'): void {
    const key = `${watcher}\u0000${error}`;
    errors.set(key, (errors.get(key) ?? 0) + 1);
  },
};

export function registerKubernetesMetrics(registry: Registry): void {
  new Gauge({
    name: 'vigil_kubernetes_watch_state', help: 'The Kubernetes pod watch: 1 for its current state.', labelNames: ['state'], registers: [registry],
    collect() {
      for (const s of WATCH_STATES) this.set({ state: s }, s === state ? 1 : 0);
    },
  });
  new Counter({
    name: 'tetragon_watcher_events_total', help: 'The total number of events for a given watcher type.', labelNames: ['watcher'], registers: [registry],
    collect() {
      this.reset();
      for (const [watcher, n] of events) this.inc({ watcher }, n);
    },
  });
  new Counter({
    name: 'tetragon_watcher_errors_total', help: 'The total number of errors for a given watcher type.', labelNames: ['watcher', 'error'], registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of errors) {
        const [watcher, error] = key.split('\u0000');
        this.inc({ watcher, error }, n);
      }
    },
  });
}
