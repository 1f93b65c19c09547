// --metrics-address: the metrics of the agent `vigil run` starts, and the
// HTTP server that serves them.
import { AgentMetrics, type StatusView } from '../metrics/registry.js';
import { MetricsServer, metricsAddress } from '../metrics/server.js';
import type { TetragonEvent } from '../../exporters/tetragon.js';

export interface RunMetrics {
  observe: (ev: TetragonEvent) => void;
  listen(): Promise<void>;
  draining(): void;
  close(): Promise<void>;
}

export function startMetrics(address: string | undefined, status: () => Record<string, unknown>): RunMetrics | undefined {
  if (!address) return undefined;
  metricsAddress(address);
  const view = (): StatusView => status() as unknown as StatusView;
  const metrics = new AgentMetrics(view);
  const server = new MetricsServer(metrics, () => view().ready === true);
  return {
    observe: (ev) => metrics.observe(ev),
    listen: () => server.listen(address),
    draining: () => server.draining(),
    close: () => server.close(),
  };
}
