// TracingPolicy and TracingPolicyNamespaced objects from the cluster, loaded
// as policy files are: an object added is linted, compiled and loaded; a
// new generation (a spec change) replaces it; a deletion detaches it. Each
// kind has its own list and watch (ListWatch), with the pod watch's states
// and backoff:
//
//   connecting --list--> connected --watch fails--> retrying --list--> connected
//        |\                                            ^
//        | `-- 401/403 --> forbidden (retried every 60 s)
//         `--- 404 -----> missing: the CRD is not installed (retried every 60 s)
//
// Changes are reconciled one at a time, in order, against what the cluster
// wants now (`desired`), so an edit or a delete that arrives while an
// earlier version is being checked is never overtaken by it. A fresh list
// after a failure reconciles what changed meanwhile. Errors go to the
// policy object as a Warning Event (policy-events.ts).
import { stringify } from 'yaml';
import type { Logger } from '../log.js';
import type { LoadOutcome, PolicySource } from '../policy/manager.js';
import { loadKubeConfig, type Client, type KubeConfig } from './client.js';
import { describeError } from './pod-watch.js';
import { PolicyEvents, type PolicyRef } from './policy-events.js';
import { describeSource, type K8sSource } from './source.js';

export type PolicyKind = 'TracingPolicy' | 'TracingPolicyNamespaced';
export const POLICY_KINDS: readonly PolicyKind[] = ['TracingPolicy', 'TracingPolicyNamespaced'];
const PLURAL: Record<PolicyKind, string> = { TracingPolicy: 'tracingpolicies', TracingPolicyNamespaced: 'tracingpoliciesnamespaced' };
const GROUP = 'cilium.io';
const VERSION = 'v1alpha1';

export type PolicyWatchState = 'connecting' | 'connected' | 'retrying' | 'forbidden' | 'missing';

export interface PolicyObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; generation?: number; resourceVersion?: string };
  spec?: unknown;
}

/** What the watch drives: the agent's PolicyManager. */
export interface PolicyTarget {
  loadObject(origin: string, text: string, source: PolicySource & { kind: 'kubernetes' }): Promise<LoadOutcome>;
  removeOrigin(origin: string): string[];
  sourceOf(name: string): PolicySource | undefined;
}

export interface PolicyWatchTiming {
  minBackoffMs: number;
  maxBackoffMs: number;
  forbiddenRetryMs: number;
}

const TIMING: PolicyWatchTiming = { minBackoffMs: 1000, maxBackoffMs: 30_000, forbiddenRetryMs: 60_000 };

/** How a policy object is named in vigil policy list and in every error: TracingPolicy/NAME, TracingPolicyNamespaced/NS/NAME. */
export function originOf(kind: PolicyKind, obj: PolicyObject): string {
  const m = obj.metadata ?? {};
  return kind === 'TracingPolicyNamespaced' ? `${kind}/${m.namespace ?? ''}/${m.name ?? ''}` : `${kind}/${m.name ?? ''}`;
}

/**
 * The object as the policy linter reads it: apiVersion, kind, name,
 * namespace and spec. The server's own metadata (managedFields, the
 * last-applied annotation) is left out; errors name fields, not lines.
 */
export function renderPolicy(kind: PolicyKind, obj: PolicyObject): string {
  const m = obj.metadata ?? {};
  const metadata = { name: m.name, ...(kind === 'TracingPolicyNamespaced' ? { namespace: m.namespace } : {}) };
  return stringify({ apiVersion: obj.apiVersion ?? `${GROUP}/${VERSION}`, kind, metadata, spec: obj.spec ?? null });
}

type ListWatch = InstanceType<Client['ListWatch']>;

/** The list and watch of one kind, restarted after failures. */
class KindWatch {
  state: PolicyWatchState = 'connecting';
  since = new Date();
  lastError?: string;
  readonly counts = { lists: 0, events: 0, errors: 0 };
  private backoffMs = 0;
  private timer?: NodeJS.Timeout;
  private current?: ListWatch;
  private stopped = false;

  constructor(
    readonly kind: PolicyKind,
    private readonly owner: PolicyWatch,
    private readonly log: Logger,
    private readonly timing: PolicyWatchTiming,
  ) {}

  connect(k8s: Client, kc: KubeConfig): void {
    if (this.stopped) return;
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const plural = PLURAL[this.kind];
    let listed = false;
    const list = async () => {
      listed = false;
      const res = (await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural, labelSelector: this.owner.labelSelector })) as { items: PolicyObject[]; metadata?: object };
      if (lw !== this.current) return res as never;
      this.counts.lists++;
      listed = true;
      this.owner.listed(this.kind, res.items);
      this.enter('connected', undefined, { policies: res.items.length });
      this.backoffMs = 0;
      return res as never;
    };
    const lw: ListWatch = new k8s.ListWatch(`/apis/${GROUP}/${VERSION}/${plural}`, new k8s.Watch(kc), list, false, this.owner.labelSelector);
    this.current = lw;
    const live = (): boolean => lw === this.current;
    const on = (f: (o: PolicyObject) => void) => (o: unknown) => {
      if (!live()) return;
      this.counts.events++;
      f(o as PolicyObject);
    };
    lw.on('add', on((o) => this.owner.upsert(this.kind, o)));
    lw.on('update', on((o) => this.owner.upsert(this.kind, o)));
    lw.on('delete', on((o) => this.owner.remove(this.kind, o)));
    lw.on('error', (err) => this.failed(lw, err, k8s, kc, listed));
    lw.start().then(() => {
      if (!live()) void lw.stop();
    }, (err) => this.failed(lw, err, k8s, kc, listed));
  }

  /** watching: the list had succeeded, so the watch is what failed. */
  private failed(lw: ListWatch, err: unknown, k8s: Client, kc: KubeConfig, watching: boolean): void {
    if (lw !== this.current || this.stopped) return;
    this.current = undefined;
    void lw.stop();
    this.counts.errors++;
    const { status } = describeError(err);
    let { message } = describeError(err);
    // A refused watch carries no Status body: say what was refused.
    if (watching && (status === 401 || status === 403)) message = `${message}: the identity may list ${PLURAL[this.kind]} but not watch them`;
    this.lastError = message;
    let delay: number;
    if (status === 401 || status === 403) {
      delay = this.timing.forbiddenRetryMs;
      this.enter('forbidden', `the Kubernetes identity may not list and watch ${PLURAL[this.kind]} (${message}): running without ${this.kind} objects from the cluster, retrying every ${delay / 1000} s`);
    } else if (status === 404) {
      delay = this.timing.forbiddenRetryMs;
      this.enter('missing', `the API server does not serve ${PLURAL[this.kind]}.${GROUP} (is deploy/crds applied?): running without ${this.kind} objects from the cluster, retrying every ${delay / 1000} s`);
    } else {
      this.backoffMs = Math.min(this.timing.maxBackoffMs, this.backoffMs ? this.backoffMs * 2 : this.timing.minBackoffMs);
      delay = this.backoffMs;
      this.enter('retrying', `the Kubernetes API failed for ${PLURAL[this.kind]} (${message}): loaded policies stay, retrying with backoff`);
    }
    this.timer = setTimeout(() => this.connect(k8s, kc), delay);
    this.timer.unref();
  }

  /** Logs the change once; the same state again is silent. */
  private enter(state: PolicyWatchState, why?: string, extra: Record<string, unknown> = {}): void {
    if (state === this.state) return;
    const from = this.state;
    this.state = state;
    this.since = new Date();
    const fields = { kind: this.kind, from, ...extra, ...(state === 'connected' ? {} : { last_error: this.lastError }) };
    if (state === 'connected') this.log.info(fields, `kubernetes: ${PLURAL[this.kind]} listed, watching`);
    else if (state === 'forbidden' || state === 'missing') this.log.error(fields, `kubernetes: ${why}`);
    else this.log.warn(fields, `kubernetes: ${why}`);
  }

  status(): Record<string, unknown> {
    return { state: this.state, since: this.since.toISOString(), ...(this.lastError ? { last_error: this.lastError } : {}), ...this.counts };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    void this.current?.stop();
    this.current = undefined;
  }
}

interface Wanted {
  kind: PolicyKind;
  obj: PolicyObject;
}

export class PolicyWatch {
  private readonly kinds: KindWatch[];
  /** What the cluster holds now, by origin. */
  private readonly desired = new Map<string, Wanted>();
  /** The version of each origin last handed to the manager (loaded or refused). */
  private readonly applied = new Map<string, { uid: string; generation: number }>();
  private queue: Promise<void> = Promise.resolve();
  private events?: PolicyEvents;
  private stopped = false;

  constructor(
    readonly source: K8sSource,
    readonly nodeName: string,
    private readonly log: Logger,
    private readonly target: PolicyTarget,
    /** Only objects with these labels (--k8s-policy-selector), e.g. to split policies between fleets of agents. */
    readonly labelSelector?: string,
    timing: PolicyWatchTiming = TIMING,
  ) {
    this.kinds = POLICY_KINDS.map((k) => new KindWatch(k, this, log, timing));
  }

  /** Loads the credentials (a broken kubeconfig throws), then lists and watches in the background. */
  async start(): Promise<void> {
    const { k8s, kc } = await loadKubeConfig(this.source);
    this.events = new PolicyEvents(k8s, kc, this.nodeName, this.log);
    this.log.info({ source: describeSource(this.source), server: kc.getCurrentCluster()!.server, label_selector: this.labelSelector }, 'kubernetes: watching TracingPolicy and TracingPolicyNamespaced objects');
    for (const w of this.kinds) w.connect(k8s, kc);
  }

  upsert(kind: PolicyKind, obj: PolicyObject): void {
    const origin = originOf(kind, obj);
    this.desired.set(origin, { kind, obj });
    this.schedule(origin);
  }

  remove(kind: PolicyKind, obj: PolicyObject): void {
    const origin = originOf(kind, obj);
    this.desired.delete(origin);
    this.schedule(origin);
  }

  /** A list succeeded: these are all the objects of the kind; those gone meanwhile are removed. */
  listed(kind: PolicyKind, objs: PolicyObject[]): void {
    const now = new Set(objs.map((o) => originOf(kind, o)));
    for (const [origin, w] of [...this.desired]) {
      if (w.kind === kind && !now.has(origin)) this.remove(kind, w.obj);
    }
  }

  /** Reconciles one origin after everything scheduled before it. */
  private schedule(origin: string): void {
    this.queue = this.queue.then(() => this.reconcile(origin)).catch((err) => {
      this.log.error({ policy: origin }, `kubernetes: reconciling the policy failed: ${(err as Error).message}`);
    });
  }

  /** Brings the manager to what the cluster holds now for this origin. */
  private async reconcile(origin: string): Promise<void> {
    if (this.stopped) return;
    const want = this.desired.get(origin);
    const have = this.applied.get(origin);
    if (!want) {
      if (!have) return;
      this.applied.delete(origin);
      const removed = this.target.removeOrigin(origin);
      this.log.info({ policy: origin, removed }, 'kubernetes: policy deleted from the cluster, detached');
      return;
    }
    const m = want.obj.metadata ?? {};
    const uid = m.uid ?? '';
    const generation = m.generation ?? 0;
    if (have && have.uid === uid && have.generation === generation) return;
    this.applied.set(origin, { uid, generation });
    const source = {
      kind: 'kubernetes' as const, resource: want.kind, name: m.name ?? '', uid, generation,
      ...(want.kind === 'TracingPolicyNamespaced' ? { namespace: m.namespace } : {}),
    };
    this.log.info({ policy: origin, generation }, have ? 'kubernetes: policy changed, replacing' : 'kubernetes: policy from the cluster, loading');
    const outcome = await this.target.loadObject(origin, renderPolicy(want.kind, want.obj), source);
    if (!outcome.errors.length || this.stopped) return;
    const key = source.namespace ? `${source.namespace}/${source.name}` : source.name;
    const running = this.target.sourceOf(key);
    const note = running?.kind === 'kubernetes' && running.uid === uid && running.generation !== generation
      ? `generation ${generation} was not loaded; generation ${running.generation} stays in force on this node`
      : `the policy is not in force on this node`;
    const ref: PolicyRef = { kind: want.kind, name: source.name, namespace: source.namespace, uid, generation, resourceVersion: m.resourceVersion };
    await this.events?.warn(ref, 'PolicyNotLoaded', outcome.errors, note);
  }

  /** Resolves once every change received so far is reconciled (tests). */
  settled(): Promise<void> {
    return this.queue;
  }

  status(): Record<string, unknown> {
    return {
      ...Object.fromEntries(this.kinds.map((w) => [w.kind, w.status()])),
      policies: this.desired.size,
      events: this.events?.counts ?? {},
    };
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.kinds) w.stop();
  }
}
