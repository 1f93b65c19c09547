// The agent's Prometheus metrics, named as Tetragon names them where it
// has a counterpart. Counts the agent already keeps (status()) are read at
// each scrape, so /metrics and `vigil status` agree; per-event labels
// (type, policy, pod, binary) are counted as events are emitted. Label
// sets past MAX_LABEL_SETS fold into binary="_other", so memory stays
// bounded however many binaries run.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { TetragonEvent } from '../../exporters/tetragon.js';
import { eventTypeName } from '../../exporters/filters/event-types.js';
import { VIGIL_VERSION } from '../../exporters/version.js';
import { registerKubernetesMetrics } from './kubernetes.js';

const MAX_LABEL_SETS = 4096;

/** The fields of Agent.status() the metrics read. */
export interface StatusView {
  ready?: boolean;
  events: Record<string, number>;
  programs: { sensor: string; program: string; hook: string; emitted: number; lost: number }[];
  lost_events: number;
  ring_buffer: { records?: number; discarded?: number };
  decoder: { unknown_ops: Record<string, number>; malformed: number; unknown_hooks: number };
  process_cache: { size: number; evicted?: number };
  policies: { name: string; state: string }[];
  exporters: Record<string, number | string>[];
  internal_errors: number;
}

interface Labeled { labels: Record<string, string>; n: number }

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly events = new Map<string, Labeled>();
  private readonly policyEvents = new Map<string, Labeled>();

  constructor(private readonly status: () => StatusView) {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool's lint rejects; the handle and request counts are in nodejs_active_*.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    registerKubernetesMetrics(this.registry);
    const counted = (map: Map<string, Labeled>) => function (this: Counter) {
      this.reset();
      for (const { labels, n } of map.values()) this.inc(labels, n);
    };
    new Counter({ name: 'tetragon_events_total', help: 'The total number of Tetragon events', labelNames: ['type', 'namespace', 'workload', 'pod', 'binary'], registers: r, collect: counted(this.events) });
    new Counter({ name: 'tetragon_policy_events_total', help: 'Policy events calls observed.', labelNames: ['policy', 'hook', 'namespace', 'workload', 'pod', 'binary'], registers: r, collect: counted(this.policyEvents) });
    const self = this;
    const fromStatus = <T extends string>(name: string, help: string, labelNames: T[], rows: (s: StatusView) => [Partial<Record<T, string>>, number][], gauge = false): void => {
      const collect = function (this: Counter<T> | Gauge<T>) {
        this.reset();
        const s = self.status();
        for (const [labels, v] of rows(s)) (this as Gauge<T>)[gauge ? 'set' : 'inc'](labels, v);
      };
      if (gauge) new Gauge({ name, help, labelNames, registers: r, collect });
      else new Counter({ name, help, labelNames, registers: r, collect });
    };
    fromStatus('tetragon_observer_ringbuf_events_received_total', 'Number of perf events Tetragon ring buffer received.', [], (s) => [[{}, s.ring_buffer.records ?? 0]]);
    fromStatus('tetragon_observer_ringbuf_events_lost_total', 'Number of perf events Tetragon ring buffer lost.', [], (s) => [[{}, s.lost_events]]);
    fromStatus('tetragon_bpf_missed_events_total', 'Records a BPF program could not put in the ring buffer (it was full), per program.', ['sensor', 'program', 'hook'],
      (s) => s.programs.map((p) => [{ sensor: p.sensor, program: p.program, hook: p.hook }, p.lost]));
    fromStatus('vigil_bpf_emitted_events_total', 'Records a BPF program put in the ring buffer, per program.', ['sensor', 'program', 'hook'],
      (s) => s.programs.map((p) => [{ sensor: p.sensor, program: p.program, hook: p.hook }, p.emitted]));
    fromStatus('tetragon_handler_errors_total', 'Ring buffer records that became no event.', ['error_type'],
      (s) => [[{ error_type: 'unknown_opcode' }, Object.values(s.decoder.unknown_ops).reduce((a, b) => a + b, 0)], [{ error_type: 'malformed' }, s.decoder.malformed], [{ error_type: 'unknown_hook' }, s.decoder.unknown_hooks]]);
    fromStatus('tetragon_process_cache_size', 'The size of the process cache', [], (s) => [[{}, s.process_cache.size]], true);
    fromStatus('tetragon_process_cache_evictions_total', 'Number of process cache evictions.', [], (s) => [[{}, s.process_cache.evicted ?? 0]]);
    fromStatus('tetragon_tracingpolicy_loaded', 'The number of loaded tracing policy by state.', ['state'], (s) => {
      const by = new Map<string, number>([['enabled', 0], ['load_error', 0]]);
      for (const p of s.policies) {
        const state = p.state === 'loaded' ? 'enabled' : 'load_error';
        by.set(state, by.get(state)! + 1);
      }
      return [...by].map(([state, n]) => [{ state }, n]);
    }, true);
    const exporters = (field: string) => (s: StatusView): [{ exporter: string }, number][] => s.exporters
      .filter((e) => e.name !== 'stream' && typeof e[field] === 'number').map((e) => [{ exporter: String(e.name) }, e[field] as number]);
    fromStatus('vigil_exporter_events_written_total', 'Events an output wrote (syslog: that the server acknowledged).', ['exporter'], exporters('written'));
    fromStatus('vigil_exporter_events_dropped_total', 'Events an output dropped: its sink was slow, full or gone.', ['exporter'], exporters('dropped'));
    fromStatus('vigil_exporter_events_filtered_total', 'Events the export allowlist and denylist kept from an output.', ['exporter'], exporters('filtered'));
    fromStatus('vigil_exporter_errors_total', 'Write or connection errors of an output.', ['exporter'], (s) => [...exporters('write_errors')(s), ...exporters('errors')(s)]);
    fromStatus('vigil_exporter_pending_events', 'Events an output holds, waiting to be written or confirmed.', ['exporter'], exporters('pending'), true);
    fromStatus('tetragon_export_ratelimit_events_dropped_total', 'Number of events dropped on export due to rate limiting', [],
      (s) => [[{}, s.exporters.reduce((n, e) => n + (typeof e.rate_limited === 'number' ? e.rate_limited : 0), 0)]]);
    fromStatus('vigil_internal_errors_total', 'Exceptions nothing caught; the agent logged each and went on.', [], (s) => [[{}, s.internal_errors]]);
    fromStatus('vigil_ready', '1 once every sensor is attached and the start-up policies are loaded.', [], (s) => [[{}, s.ready ? 1 : 0]], true);
    new Gauge({ name: 'tetragon_build_info', help: 'Build information', labelNames: ['version'], registers: r, collect() { this.set({ version: VIGIL_VERSION }, 1); } });
    new Gauge({ name: 'tetragon_process_cache_capacity', help: 'The capacity of the process cache. Expected to be constant.', registers: r, collect() { this.set(65536); } });
  }

  /** Counts one emitted event by its labels (the agent calls it for each). */
  observe(ev: TetragonEvent): void {
    const body = ev.process_exec ?? ev.process_exit ?? ev.process_kprobe ?? ev.process_tracepoint ?? ev.process_uprobe ?? ev.process_lsm;
    const p = body?.process;
    const pod = p && 'pod' in p ? p.pod : undefined;
    const binary = p && 'binary' in p ? p.binary : '';
    const type = ev.vigil_lost ? 'VIGIL_LOST' : eventTypeName(ev);
    const where = { namespace: pod?.namespace ?? '', workload: pod?.workload ?? '', pod: pod?.name ?? '' };
    count(this.events, { type, ...where, binary });
    const policy = ev.process_kprobe?.policy_name ?? ev.process_tracepoint?.policy_name ?? ev.process_uprobe?.policy_name ?? ev.process_lsm?.policy_name;
    if (policy) {
      const up = ev.process_uprobe;
      const hook = ev.process_kprobe?.function_name ?? ev.process_lsm?.function_name
        ?? (up ? `${up.path}:${up.symbol || up.offset}` : `${ev.process_tracepoint!.subsys}/${ev.process_tracepoint!.event}`);
      count(this.policyEvents, { policy, hook, ...where, binary });
    }
  }
}

function count(map: Map<string, Labeled>, labels: Record<string, string>): void {
  let key = Object.values(labels).join('\u0000');
  let hit = map.get(key);
  if (!hit && map.size >= MAX_LABEL_SETS) {
    labels = { ...labels, binary: '_other' };
    key = Object.values(labels).join('\u0000');
    hit = map.get(key);
  }
  if (hit) hit.n++;
  else map.set(key, { labels, n: 1 });
}
