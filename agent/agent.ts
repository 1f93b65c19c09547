// The agent: the data path from loaded programs to exporters.
//
//   preflight -> sensors (open, load, attach) -> /proc seed -> ring buffer
//   -> decode -> process cache -> Tetragon events -> exporters (the socket's stream among them)
//
// stop() runs the steps in reverse: stop reading (draining what is left),
// detach and close the sensors, flush the exporters, close the socket.
import { hostname } from 'node:os';
import type { Logger } from './log.js';
import { preflight } from '../kernel/preflight.js';
import { setLibbpfSink } from '../kernel/bpf/libbpf.js';
import { SharedMaps } from './sensors/shared-maps.js';
import { BpfMap } from '../kernel/bpf/map.js';
import { RingReader } from './ringbuf/reader.js';
import { RecordDecoder } from './decode/decode.js';
import type { TetragonEvent, VigilLost } from '../exporters/tetragon.js';
import { ProcessCache, type ProcessFields } from './process/cache.js';
import { procfsBatches } from './process/procfs.js';
import { ContainerResolver } from './process/container.js';
import { ktimeToRfc3339, nowRfc3339 } from './process/clock.js';
import { ProcessSensor } from './sensors/process.js';
import { CounterSlots, type ProgramCounter } from './sensors/counters.js';
import { addAncestors, execEvent, exitEvent } from './enrich/process-events.js';
import { policyEvent } from './enrich/policy-events.js';
import { HookRegistry, type HookHandle } from './sensors/hooks.js';
import { PinStore } from './sensors/pins.js';
import { PolicyScopes } from './scope/scopes.js';
import { ScopeSync } from './scope/sync.js';
import { PodCgroups } from './scope/pod-cgroups.js';
import type { HookPlan } from '../policies/compiler/plan.js';
import { compilePlan } from '../policies/compiler/compile.js';
import type { MechanismChoice } from '../policies/compiler/mechanism.js';
import { disableFeatures, probeFeatures, type FeatureResult } from '../kernel/features.js';
import { runningKernel, type KernelFacts } from '../kernel/facts.js';
import { VigilError } from '../kernel/errors.js';
import { eventType, type EventType } from '../exporters/tetragon.js';
import { ControlServer } from './control/server.js';
import type { Exporter } from '../exporters/exporter.js';
import { StreamExporter } from '../exporters/stream.js';
import { PolicyManager } from './policy/manager.js';
import { PolicyDirWatcher } from './policy/watch.js';
import { PolicyFile } from './policy/file.js';
import { PolicyChecker } from './policy/checker.js';
import { statSync } from 'node:fs';
import type { ProcessNode } from './process/cache.js';
import { KubernetesPods } from './k8s/pods.js';
import { PolicyWatch } from './k8s/policy-watch.js';
import type { K8sSource } from './k8s/source.js';
import { PodEnricher, eventNodes } from './enrich/pods.js';
import { EventCache } from './enrich/event-cache.js';
import { dirname, isAbsolute, join } from 'node:path';

/** An event whose processes wait for no pod: without Kubernetes, every event. */
const NO_PODS: { nodes: ProcessNode[]; wait: boolean } = Object.freeze({ nodes: [], wait: false });
/** Processes read from /proc per turn of the event loop at start. */
const PROCFS_BATCH = 256;

export interface AgentOptions {
  nodeName?: string;
  exporters: Exporter[];
  /** Event kinds that carry ancestors (--enable-ancestors); true: process_exec and process_exit. */
  ancestors: boolean | readonly EventType[];
  /** Optional process fields (--enable-process-cred, --enable-process-ns); both off by default, as in Tetragon. */
  processFields?: ProcessFields;
  socketPath: string;
  ringBytes: number;
  log: Logger;
  /** TracingPolicy files or directories loaded at start. */
  policies?: string[];
  /** A directory whose policy files are loaded and watched. */
  policyDir?: string;
  /** Probed kernel features, when already known; probed at the first hook otherwise. */
  features?: FeatureResult[];
  /** Features treated as missing, so hooks take the next mechanism. */
  disabledFeatures?: string[];
  /** The Kubernetes API to watch this node's pods with; none: no pod data (containers still get `docker`). */
  k8s?: K8sSource;
  /** With k8s: load TracingPolicy and TracingPolicyNamespaced objects from the cluster (default true). */
  k8sPolicies?: boolean;
  /** A label selector: only the policy objects it selects are loaded. */
  k8sPolicySelector?: string;
  /** How long an event waits for its process's pod (ms). */
  podWaitMs?: number;
  /** Scopes learn a pod's cgroup from its first exec, not only from the pod watch (default true; false to measure the difference). */
  scopeFromExec?: boolean;
  /** Pin enforcement in bpffs so it outlives a crash of the agent (default true). */
  pin?: boolean;
  /** Where in bpffs (default /sys/fs/bpf/vigil); what they are is recorded beside the control socket. */
  pinDir?: string;
  /** Redacts a process's arguments once, as it enters the process cache (--redaction-filters). */
  redact?: (binary: string, args: string) => string;
  /** Sees every emitted event before the exporters (the metrics count them). */
  observe?: (ev: TetragonEvent) => void;
}

export class Agent {
  readonly nodeName: string;
  private readonly shared = new SharedMaps();
  private readonly slots = new CounterSlots();
  private readonly decoder = new RecordDecoder();
  private readonly cache: ProcessCache;
  private readonly containers = new ContainerResolver();
  private readonly process = new ProcessSensor();
  private reader?: RingReader;
  private readerDone?: Promise<void>;
  private control?: ControlServer;
  private policies?: PolicyManager;
  private watcher?: PolicyDirWatcher;
  /** --policy files and directories, rescanned on reload(). */
  private readonly sources: { rescan(): Promise<void> }[] = [];
  /** Reads, lints and compiles policy files off the event loop. */
  private readonly checker = new PolicyChecker();
  /** The kernel's facts for the compiler, from the feature probe at the first policy. */
  private facts?: KernelFacts;
  private counters?: BpfMap;
  private lostTimer?: NodeJS.Timeout;
  private lastLost = new Map<string, number>();
  private lastDropped = new Map<string, number>();
  private lastUndecodable = 0;
  private readonly started = new Date();
  private ready = false;
  private readonly events: Record<string, number> = { process_exec: 0, process_exit: 0, procfs: 0 };
  private hooks!: HookRegistry;
  /** Enforcement pinned in bpffs (pins.ts); undefined with --no-pin. */
  private readonly pinStore?: PinStore;
  private processFingerprint?: string;
  private unknownHooks = 0;
  private internalErrors = 0;
  /** The live tail of the control socket, after the caller's exporters. */
  private readonly stream = new StreamExporter();
  private readonly exporters: Exporter[];
  /**
   * The scopes of the loaded policies limited to pods (TracingPolicyNamespaced,
   * podSelector, containerSelector), one per policy. The Kubernetes side
   * says which cgroups are in each; until it does, such a policy acts on nothing.
   */
  readonly scopes: PolicyScopes;
  private pods?: KubernetesPods;
  /** Keeps the scopes equal to the cgroups of the pods they select; only with Kubernetes. */
  scopeSync?: ScopeSync;
  /** TracingPolicy objects from the cluster; only with Kubernetes. */
  private policyWatch?: PolicyWatch;
  /** Events waiting for their process's pod; only with Kubernetes. */
  private held?: EventCache;
  private podTimer?: NodeJS.Timeout;
  private lastTimedOut = 0;
  private readonly ancestorKinds: ReadonlySet<EventType>;
  /** Whether exec, exit and policy events carry ancestors (--enable-ancestors). */
  private readonly execAncestors: boolean;
  private readonly exitAncestors: boolean;
  private readonly policyAncestors: boolean;

  constructor(private readonly opts: AgentOptions) {
    this.nodeName = opts.nodeName ?? hostname();
    this.cache = new ProcessCache(this.nodeName, undefined, opts.redact, opts.processFields);
    this.exporters = [...opts.exporters, this.stream];
    this.scopes = new PolicyScopes(opts.log);
    this.ancestorKinds = new Set(opts.ancestors === true ? ['process_exec', 'process_exit'] : opts.ancestors || []);
    this.execAncestors = this.ancestorKinds.has('process_exec');
    this.exitAncestors = this.ancestorKinds.has('process_exit');
    this.policyAncestors = [...this.ancestorKinds].some((k) => k !== 'process_exec' && k !== 'process_exit');
    if (opts.pin !== false) this.pinStore = new PinStore(opts.pinDir, join(dirname(opts.socketPath), 'pins.json'));
  }

  /** The running kernel as the policy compiler sees it; probes its features once. */
  private kernel(): KernelFacts {
    return (this.facts ??= runningKernel(this.opts.features ?? disableFeatures(probeFeatures(), this.opts.disabledFeatures ?? [])));
  }

  /** Compiles one hook plan for this kernel and loads it (after start); its events go to the exporters. */
  loadHook(plan: HookPlan): Pick<MechanismChoice, 'mechanism' | 'target' | 'reason'> & Pick<HookHandle, 'hookId' | 'counters'> {
    if (!this.reader) throw new VigilError('VIGIL_INTERNAL', 'loadHook() before start()');
    const hook = compilePlan(plan, this.kernel());
    const { hookId, counters } = this.hooks.load(hook);
    const { mechanism, target, reason } = hook.choice;
    return { hookId, mechanism, target, reason, counters };
  }

  /** The hooks that share one program with this one (a hook group), itself included; undefined: it runs alone. */
  hookGroup(hookId: number): { slot: number; generation: number; members: number[] } | undefined {
    return this.hooks.groupOf(hookId);
  }

  /** Detaches a hook loaded by loadHook(); false when there is none by that id. */
  unloadHook(hookId: number): boolean {
    return this.hooks.unload(hookId);
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    setLibbpfSink((level, msg) => (level === 'debug' ? undefined : log.debug({ libbpf: level }, msg)));
    const pre = preflight();
    if (pre.mounted.length) log.info({ mounted: pre.mounted }, 'mounted kernel file systems');

    this.loadSensors();
    this.counters = CounterSlots.map(this.shared.fd('vigil_counters')!);

    this.containers.open();
    await this.startKubernetes();
    this.reader = new RingReader(this.shared.fd('vigil_events')!, this.opts.ringBytes, (dv, at, len) => this.onRecord(dv, at, len));
    await this.seedFromProcfs();
    this.readerDone = this.reader.run();

    this.control = new ControlServer(this.opts.socketPath, {
      status: () => this.status(),
      'policy-list': () => this.policies!.list(),
      'policy-add': (req) => {
        if (typeof req.path !== 'string' || !isAbsolute(req.path)) throw new VigilError('VIGIL_USAGE', `policy-add needs an absolute path, got ${JSON.stringify(req.path)}`);
        return this.policies!.loadFile(req.path);
      },
      'policy-delete': (req) => {
        if (typeof req.name !== 'string') throw new VigilError('VIGIL_USAGE', 'policy-delete needs a policy name');
        const source = this.policies!.sourceOf(req.name);
        if (source?.kind === 'kubernetes') {
          const ns = source.namespace ? ` -n ${source.namespace}` : '';
          throw new VigilError('VIGIL_USAGE', `${req.name} comes from the cluster: kubectl delete ${source.resource.toLowerCase()}${ns} ${source.name}`);
        }
        return { deleted: this.policies!.remove(req.name) };
      },
    }, (socket) => this.stream.subscribe(socket));
    await this.control.listen();
    await this.loadPolicies();
    await this.watchClusterPolicies();
    this.prunePins();
    this.lostTimer = setInterval(() => this.reportLost(), 2000);
    this.lostTimer.unref();
    log.info({ node_name: this.nodeName, socket: this.opts.socketPath, exporters: this.exporters.map((e) => e.name) }, 'ready');
    this.ready = true;
  }

  /** The pod watch, and the event cache that holds events of processes whose pod is not known yet. */
  private async startKubernetes(): Promise<void> {
    if (!this.opts.k8s) return;
    const pods = new KubernetesPods(this.opts.k8s, this.nodeName, this.opts.log, () => {
      this.held?.retry();
      this.scopeSync?.podsChanged();
    });
    this.held = new EventCache(new PodEnricher(pods.index, () => pods.mayWait), (ev) => this.emit(ev), this.opts.podWaitMs);
    this.pods = pods;
    const root = this.containers.cgroup2Root();
    if (root) {
      this.scopeSync = new ScopeSync(this.scopes, pods.index, new PodCgroups(root), () => pods.listedOnce, this.opts.log, this.opts.scopeFromExec ?? true);
      this.scopeSync.start();
    }
    await pods.start();
    this.podTimer = setInterval(() => {
      const now = Date.now();
      pods.expire(now);
      this.held?.retry(now);
    }, 1000);
    this.podTimer.unref();
  }

  /** Emits an event of these processes, or holds it while one of them waits for its pod. */
  private out(ev: TetragonEvent, nodes: ProcessNode[], wait: boolean): void {
    if (this.held) this.held.offer(ev, nodes, wait);
    else this.emit(ev);
  }

  /** The processes an event names, with their pods attached when known; whether one waits. */
  private podsOf(node: ProcessNode | undefined, withAncestors = false): { nodes: ProcessNode[]; wait: boolean } {
    if (!this.held || !node) return NO_PODS;
    const nodes = eventNodes(this.cache, node, withAncestors);
    return { nodes, wait: this.held.waits(nodes) };
  }

  /**
   * The process sensor and the hook registry. Pinned by an earlier agent of
   * this build (kill -9, a crash), the process sensor and the enforcing hooks
   * are adopted, not attached twice: they kept enforcing in between.
   */
  private loadSensors(): void {
    const { log } = this.opts;
    const store = this.pinStore;
    const found = store?.read() ?? { hooks: [] };
    const fp = store?.processFingerprint(this.opts.ringBytes);
    const adopt = store && fp && found.process === fp;
    if (adopt) {
      this.process.adopt(this.shared, this.slots, store.processDir(fp));
      log.info({ sensor: 'process', pinned: this.process.attached(), hooks: found.hooks.length }, 'adopted the pinned process sensor of an earlier agent');
    } else {
      this.process.load(this.shared, this.slots, { ringBytes: this.opts.ringBytes });
      if (store && fp) this.process.pin(store.processDir(fp));
      log.info({ sensor: 'process', programs: this.process.attached() }, 'sensor attached');
    }
    this.processFingerprint = fp;
    this.hooks = new HookRegistry(this.shared, this.slots, log, this.scopes, store && fp ? { store, processFingerprint: fp, found: adopt ? found.hooks : [] } : undefined);
  }

  /** After the first policies: pins no loaded policy took over (an old build's, a deleted policy's) are removed. */
  private prunePins(): void {
    if (!this.pinStore) return;
    this.hooks.dropUnadopted();
    const removed = this.pinStore.prune(this.processFingerprint, this.hooks.pinnedIds());
    if (removed.length) this.opts.log.info({ removed }, 'removed pins of an earlier agent');
  }

  /** Policies from --policy (files and directories) and the watched --policy-dir. */
  private async loadPolicies(): Promise<void> {
    const { log } = this.opts;
    const manager = new PolicyManager(log, (hook) => this.hooks.load(hook), () => this.kernel(), this.checker,
      { begin: () => this.hooks.beginBatch(), end: () => this.hooks.endBatch() });
    this.policies = manager;
    for (const p of this.opts.policies ?? []) {
      let dir = false;
      try {
        dir = statSync(p).isDirectory();
      } catch (err) {
        log.error({ policy: p }, `cannot read policy path: ${(err as Error).message}`);
        continue;
      }
      this.sources.push(dir ? new PolicyDirWatcher(p, manager, log) : new PolicyFile(p, manager));
    }
    // The policies of the start are loaded together: one load per hook group.
    await manager.batch(async () => {
      for (const s of this.sources) await s.rescan();
      if (this.opts.policyDir) {
        this.watcher = new PolicyDirWatcher(this.opts.policyDir, manager, log);
        await this.watcher.start();
      }
    });
    log.info({ policies: manager.list().length }, 'policies of the start loaded');
  }

  /** TracingPolicy and TracingPolicyNamespaced objects, loaded beside the files. */
  private async watchClusterPolicies(): Promise<void> {
    if (!this.opts.k8s || this.opts.k8sPolicies === false) return;
    this.policyWatch = new PolicyWatch(this.opts.k8s, this.nodeName, this.opts.log, this.policies!, this.opts.k8sPolicySelector);
    await this.policyWatch.start();
  }

  /** An exception nothing caught: logged with its stack and counted in status, and the agent goes on. */
  internalError(err: unknown): void {
    this.internalErrors++;
    this.opts.log.error({ err, internal_errors: this.internalErrors }, 'internal error');
  }

  /**
   * SIGHUP: reopen every export file (after logrotate's rename) and reload
   * the policy files that changed. The agent keeps running whatever fails.
   */
  async reload(): Promise<void> {
    const { log } = this.opts;
    log.info('reloading: reopening exports, rescanning policy files');
    for (const e of this.exporters) {
      try {
        e.reopen?.();
      } catch (err) {
        log.error({ exporter: e.name }, `reopen failed: ${(err as Error).message}`);
      }
    }
    for (const s of [...this.sources, ...(this.watcher ? [this.watcher] : [])]) await s.rescan();
  }

  /** Processes that predate the agent: written to the kernel map, cached, and exported as procFS execs. */
  private async seedFromProcfs(): Promise<void> {
    const time = ktimeToRfc3339(process.hrtime.bigint());
    // In batches, with a turn of the event loop between: the exporters write each batch's events, and its garbage dies young.
    for (const batch of procfsBatches(PROCFS_BATCH)) {
      for (const p of this.process.seed(batch)) {
        const node = this.cache.addImage(p, p.kernelThread ? undefined : this.containers.ofPid(p.proc.pid));
        if (p.kernelThread) continue;
        this.events.procfs++;
        const { nodes, wait } = this.podsOf(node, this.execAncestors);
        this.out(execEvent(this.cache, node, time, this.execAncestors), nodes, wait);
      }
      await new Promise(setImmediate);
    }
  }

  private onRecord(dv: DataView, at: number, len: number): void {
    const rec = this.decoder.decode(dv, at, len);
    if (!rec) return;
    switch (rec.op) {
      case 'exec': {
        const container = this.containers.ofExec(rec.cgroupId, rec.proc.pid);
        // A container's first exec puts its pod in the scopes that select it, before its events go out.
        if (container?.podUid && this.scopeSync) this.scopeSync.exec(rec.cgroupId, this.containers.pathOf(rec.cgroupId));
        const node = this.cache.addExec(rec, container);
        const { nodes, wait } = this.podsOf(node, this.execAncestors);
        this.out(execEvent(this.cache, node, ktimeToRfc3339(rec.ktime), this.execAncestors), nodes, wait);
        break;
      }
      case 'clone':
        this.cache.addClone(rec);
        break;
      case 'exit': {
        const node = this.cache.resolve(rec.proc);
        if (!node) break;
        const { nodes, wait } = this.podsOf(node, this.exitAncestors);
        const ev = exitEvent(this.cache, node, rec);
        this.out(this.exitAncestors ? addAncestors(this.cache, ev, this.ancestorKinds) : ev, nodes, wait);
        this.cache.retire(node);
        break;
      }
      case 'generic': {
        const hook = this.hooks.hook(rec.hookId);
        if (hook) {
          // Pods are attached before the event is built from the process objects.
          const { nodes, wait } = this.podsOf(this.cache.resolve(rec.proc), this.policyAncestors);
          const ev = policyEvent(this.cache, { plan: hook.plan, functionName: hook.choice.functionName }, rec);
          this.out(this.policyAncestors ? addAncestors(this.cache, ev, this.ancestorKinds) : ev, nodes, wait);
        } else {
          this.unknownHooks++;
        }
        break;
      }
    }
  }

  private emit(ev: TetragonEvent): void {
    const type = eventType(ev);
    if (type) this.events[type] = (this.events[type] ?? 0) + 1;
    this.opts.observe?.(ev);
    for (const e of this.exporters) e.write(ev);
  }

  private readCounters(): ProgramCounter[] {
    return this.counters ? this.slots.read(this.counters) : [];
  }

  /** Logs every program whose lost count grew since the last look, and events that went out without their pod. */
  private reportLost(): void {
    const timedOut = this.held?.stats.timed_out ?? 0;
    if (timedOut > this.lastTimedOut) {
      this.opts.log.warn({ events: timedOut - this.lastTimedOut, total: timedOut, waited_ms: this.held!.waitMs }, 'kubernetes: events exported without their pod, which was not known in time');
    }
    this.lastTimedOut = timedOut;
    const ring: NonNullable<VigilLost['ring_buffer']> = [];
    for (const c of this.readCounters()) {
      const key = `${c.sensor}/${c.program}`;
      const before = this.lastLost.get(key) ?? 0;
      if (c.lost > before) {
        this.opts.log.warn({ sensor: c.sensor, program: c.program, lost: c.lost - before, lost_total: c.lost }, 'ring buffer full: events lost');
        ring.push({ sensor: c.sensor, program: c.program, hook: c.hook, lost: c.lost - before, lost_total: c.lost });
      }
      this.lastLost.set(key, c.lost);
    }
    const exporters: NonNullable<VigilLost['exporters']> = [];
    for (const e of this.exporters) {
      const total = Number(e.stats().dropped ?? 0);
      const before = this.lastDropped.get(e.name) ?? 0;
      if (total > before) exporters.push({ name: e.name, dropped: total - before, dropped_total: total });
      this.lastDropped.set(e.name, total);
    }
    const undecodableTotal = this.undecodable();
    const undecodable = undecodableTotal - this.lastUndecodable;
    this.lastUndecodable = undecodableTotal;
    const lost = ring.reduce((n, r) => n + r.lost, 0) + exporters.reduce((n, e) => n + e.dropped, 0) + undecodable;
    if (!lost) return;
    const body: VigilLost = { ...(ring.length ? { ring_buffer: ring } : {}), ...(exporters.length ? { exporters } : {}), ...(undecodable ? { undecodable } : {}), lost };
    this.emit({ vigil_lost: body, node_name: this.nodeName, time: nowRfc3339() });
  }

  /** Records that became no event: unknown ops, malformed records, records of unknown hooks. */
  private undecodable(): number {
    let n = this.decoder.malformed.count + this.unknownHooks;
    for (const v of this.decoder.unknownOps.values()) n += v;
    return n;
  }

  status(): Record<string, unknown> {
    const counters = this.readCounters();
    return {
      node_name: this.nodeName,
      pid: process.pid,
      ready: this.ready,
      started: this.started.toISOString(),
      uptime_seconds: Math.round((Date.now() - this.started.getTime()) / 1000),
      sensors: [{ name: this.process.name, programs: this.process.attached() }],
      hooks: this.hooks.states(),
      policies: this.policies?.list().map((p) => ({ name: p.name, state: p.state, hooks: p.hooks.length })) ?? [],
      programs: counters,
      lost_events: counters.reduce((n, c) => n + c.lost, 0),
      ring_buffer: { bytes: this.opts.ringBytes, ...this.reader?.stats },
      decoder: { unknown_ops: Object.fromEntries(this.decoder.unknownOps), malformed: this.decoder.malformed.count, unknown_hooks: this.unknownHooks },
      events: this.events,
      process_cache: { size: this.cache.size, ...this.cache.stats },
      containers: this.containers.stats(),
      kubernetes: this.pods
        ? {
          enabled: true, ...this.pods.status(), event_cache: this.held!.status(),
          ...(this.policyWatch ? { policy_watch: this.policyWatch.status() } : {}), ...(this.scopeSync ? { scopes: this.scopeSync.status() } : {}),
        }
        : { enabled: false },
      exporters: this.exporters.map((e) => ({ name: e.name, ...e.stats() })),
      control: { ...this.control?.stats, subscribers: this.stream.stats().subscribers },
      internal_errors: this.internalErrors,
      rss_bytes: process.memoryUsage().rss,
      heap_used_bytes: process.memoryUsage().heapUsed,
    };
  }

  async stop(): Promise<void> {
    const { log } = this.opts;
    clearInterval(this.lostTimer);
    clearInterval(this.podTimer);
    this.reader?.stop();
    await this.readerDone;
    this.pods?.stop();
    this.scopeSync?.stop();
    this.held?.flush();
    this.reportLost();
    this.watcher?.close();
    this.policyWatch?.stop();
    this.checker.close();
    this.policies?.close();
    this.hooks?.close();
    this.process.close();
    // A clean stop leaves nothing behind; only a crash leaves enforcement pinned.
    if (this.hooks) this.pinStore?.clear();
    this.reader?.close();
    this.containers.close();
    await this.control?.close();
    await Promise.all(this.exporters.map((e) => e.close()));
    if (this.ready) log.info({ events: this.events, lost_events: [...this.lastLost.values()].reduce((a, b) => a + b, 0) }, 'stopped');
  }
}
