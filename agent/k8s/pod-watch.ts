// The pods of this node from the API server: a list, then a watch, with
// @kubernetes/client-node's ListWatch (fieldSelector spec.nodeName=<node>).
//
//   connecting --list--> connected --watch fails--> retrying --list--> connected
//        \                                            ^
//         `-- 401/403 --> forbidden (retried every 60 s, quietly)
//
// ListWatch re-watches when the server ends a watch, and relists on 410
// Gone by itself. On any other failure it stops; this module then starts a
// fresh one after a backoff (1 s doubling to 30 s), whose list also
// reconciles what changed meanwhile: `listed` names the pods that exist.
// Each state change is logged once; the last error is kept for status.
import type { Logger } from '../log.js';
import type { PodObject } from './pod-record.js';
import { describeSource, type K8sSource } from './source.js';
import { VigilError } from '../../kernel/errors.js';

export type K8sState = 'connecting' | 'connected' | 'retrying' | 'forbidden';

export interface PodWatchSink {
  upsert(pod: PodObject): void;
  remove(pod: PodObject): void;
  /** A list succeeded: these are all the node's pods. */
  listed(pods: PodObject[]): void;
  state(state: K8sState): void;
}

export interface PodWatchTiming {
  minBackoffMs: number;
  maxBackoffMs: number;
  forbiddenRetryMs: number;
}

const TIMING: PodWatchTiming = { minBackoffMs: 1000, maxBackoffMs: 30_000, forbiddenRetryMs: 60_000 };

type Client = typeof import('@kubernetes/client-node');
type ListWatch = InstanceType<Client['ListWatch']>;

/** HTTP status and message of a failed list or watch. */
export function describeError(err: unknown): { status?: number; message: string } {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.code === 'number' ? e.code : undefined;
  let message = e?.message ?? String(err);
  let body = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not a Status object
    }
  }
  const apiMessage = (body as { message?: unknown } | undefined)?.message;
  if (typeof apiMessage === 'string') message = apiMessage;
  else if (status !== undefined) message = message.split('\n')[0];
  return { status, message: status !== undefined ? `${status}: ${message}` : message };
}

export class PodWatch {
  state: K8sState = 'connecting';
  private since = new Date();
  private lastError?: string;
  private readonly counts = { lists: 0, errors: 0 };
  private backoffMs = 0;
  private timer?: NodeJS.Timeout;
  private current?: ListWatch;
  private stopped = false;
  private connectOnce?: () => void;

  constructor(
    readonly source: K8sSource,
    readonly nodeName: string,
    private readonly log: Logger,
    private readonly sink: PodWatchSink,
    private readonly timing: PodWatchTiming = TIMING,
  ) {}

  /** Loads the client and the credentials (a broken kubeconfig throws), then connects in the background. */
  async start(): Promise<void> {
    const k8s: Client = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    try {
      if (this.source.kind === 'kubeconfig') kc.loadFromFile(this.source.path);
      else kc.loadFromCluster();
    } catch (err) {
      throw new VigilError('VIGIL_USAGE', `Kubernetes: ${describeSource(this.source)}: ${(err as Error).message}`);
    }
    if (!kc.getCurrentCluster()) throw new VigilError('VIGIL_USAGE', `Kubernetes: ${describeSource(this.source)} names no current cluster`);
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    this.log.info({ source: describeSource(this.source), server: kc.getCurrentCluster()!.server, node: this.nodeName }, 'kubernetes: watching this node\'s pods');
    this.connectOnce = () => {
      const list = async () => {
        const res = await api.listPodForAllNamespaces({ fieldSelector });
        if (lw !== this.current) return res;
        this.counts.lists++;
        this.sink.listed(res.items as PodObject[]);
        this.enter('connected', undefined, { pods: res.items.length });
        this.backoffMs = 0;
        return res;
      };
      const lw = new k8s.ListWatch<import('@kubernetes/client-node').V1Pod>('/api/v1/pods', new k8s.Watch(kc), list, false, undefined, fieldSelector);
      this.current = lw;
      // A ListWatch replaced or stopped may still finish a list and start a watch: it is ignored, and stopped again.
      const live = (): boolean => lw === this.current;
      lw.on('add', (p) => live() && this.sink.upsert(p as PodObject));
      lw.on('update', (p) => live() && this.sink.upsert(p as PodObject));
      lw.on('delete', (p) => live() && this.sink.remove(p as PodObject));
      lw.on('error', (err) => this.failed(lw, err));
      lw.start().then(() => {
        if (!live()) void lw.stop();
      }, (err) => this.failed(lw, err));
    };
    this.connectOnce();
  }

  private failed(lw: ListWatch, err: unknown): void {
    if (lw !== this.current || this.stopped) return;
    this.current = undefined;
    void lw.stop();
    this.counts.errors++;
    const { status, message } = describeError(err);
    this.lastError = message;
    let delay: number;
    if (status === 401 || status === 403) {
      delay = this.timing.forbiddenRetryMs;
      this.enter('forbidden', `the Kubernetes identity may not list and watch pods (${message}): running without pod data, retrying every ${delay / 1000} s`);
    } else {
      this.backoffMs = Math.min(this.timing.maxBackoffMs, this.backoffMs ? this.backoffMs * 2 : this.timing.minBackoffMs);
      delay = this.backoffMs;
      this.enter('retrying', `the Kubernetes API failed (${message}): pods known so far are kept, retrying with backoff`);
    }
    this.timer = setTimeout(() => this.connectOnce?.(), delay);
    this.timer.unref();
  }

  /** Logs the change once; the same state again is silent. */
  private enter(state: K8sState, why?: string, extra: Record<string, unknown> = {}): void {
    if (state === this.state) return;
    const from = this.state;
    this.state = state;
    this.since = new Date();
    if (state === 'connected') this.log.info({ from, ...extra }, 'kubernetes: connected, pods listed');
    else if (state === 'forbidden') this.log.error({ from, last_error: this.lastError }, `kubernetes: ${why}`);
    else this.log.warn({ from, last_error: this.lastError }, `kubernetes: ${why}`);
    this.sink.state(state);
  }

  status(): Record<string, unknown> {
    return {
      source: describeSource(this.source),
      node_name: this.nodeName,
      state: this.state,
      since: this.since.toISOString(),
      ...(this.lastError ? { last_error: this.lastError } : {}),
      ...this.counts,
    };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    void this.current?.stop();
    this.current = undefined;
  }
}
