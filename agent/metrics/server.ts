// --metrics-address: /metrics (Prometheus text), /healthz (the agent
// answers: its event loop runs) and /readyz (200 once the agent is ready,
// 503 before and while it stops).
import { createServer, type Server } from 'node:http';
import { VigilError } from '../../kernel/errors.js';
import type { AgentMetrics } from './registry.js';

/** HOST:PORT, :PORT (every address) or [V6]:PORT. */
export function metricsAddress(value: string): { host?: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]*):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new VigilError('VIGIL_USAGE', `--metrics-address takes HOST:PORT or :PORT, got ${JSON.stringify(value)}`);
  return { host: m[1] ? m[1].replace(/^\[|\]$/g, '') : undefined, port };
}

export class MetricsServer {
  private server?: Server;
  private stopping = false;

  constructor(private readonly metrics: AgentMetrics, private readonly ready: () => boolean) {}

  async listen(address: string): Promise<void> {
    const { host, port } = metricsAddress(address);
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
      } else if (path === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ok = this.ready() && !this.stopping;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404).end();
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new VigilError('VIGIL_USAGE', `--metrics-address ${address}: cannot listen: ${err.message}`)));
      server.listen(port, host, () => resolve());
    });
  }

  /** Not ready from now on; the server itself closes with close(). */
  draining(): void {
    this.stopping = true;
  }

  close(): Promise<void> {
    this.stopping = true;
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
