// Checks policy files on a worker thread, so reading, linting and compiling
// untrusted input never stalls the agent's event loop (exports, the control
// socket, enforcement bookkeeping). One file at a time; each check has a
// time limit and the thread a memory limit, and a thread that dies or runs
// over is replaced. A policy's compiled bytes come back as plain data.
import { Worker } from 'node:worker_threads';
import { VigilError } from '../../kernel/errors.js';
import type { FeatureState } from '../../kernel/facts.js';
import type { CheckAnswer, CheckedPolicy, CheckResult } from './check-worker.js';

export type { CheckedPolicy, CheckResult };

const WORKER = new URL('./check-worker.js', import.meta.url);

export interface CheckerLimits {
  /** Milliseconds one file may take (default 60 s). */
  timeoutMs: number;
  /** Heap of the checking thread (default 512 MiB). */
  heapMb: number;
}

interface Pending {
  resolve: (a: CheckResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class PolicyChecker {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly limits: CheckerLimits;

  constructor(limits: Partial<CheckerLimits> = {}) {
    this.limits = { timeoutMs: 60_000, heapMb: 512, ...limits };
  }

  /** Lints and compiles one file for a kernel with these features; queued behind earlier checks. */
  check(file: string, features: FeatureState[], text?: string): Promise<CheckResult> {
    const run = this.queue.then(() => this.run(file, features, text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private run(file: string, features: FeatureState[], text?: string): Promise<CheckResult> {
    const worker = this.thread();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new VigilError('VIGIL_POLICY_INVALID', `checking ${file} took longer than ${this.limits.timeoutMs / 1000} s; it was abandoned`));
      }, this.limits.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, file, text, features });
    });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER, { resourceLimits: { maxOldGenerationSizeMb: this.limits.heapMb } });
    w.unref();
    w.on('message', (a: CheckAnswer) => this.answer(a));
    w.on('error', (err) => this.fail(new VigilError('VIGIL_POLICY_INVALID', `the policy checker failed: ${err.message}`)));
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
      this.fail(new VigilError('VIGIL_POLICY_INVALID', 'the policy checker stopped (a policy too large for its memory?)'));
    });
    this.worker = w;
    return w;
  }

  private answer(a: CheckAnswer): void {
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    clearTimeout(p.timer);
    if ('error' in a) p.reject(new VigilError('VIGIL_INTERNAL', `the policy checker failed: ${a.error}`));
    else p.resolve({ lint: a.lint, names: a.names, policies: a.policies.map((c) => revive(c)) });
  }

  /** Fails what is in flight and replaces the thread. */
  private fail(err: Error): void {
    const w = this.worker;
    this.worker = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
    void w?.terminate();
  }

  close(): void {
    this.fail(new VigilError('VIGIL_INTERNAL', 'the agent is stopping'));
  }
}

/** Buffers come back from a thread as Uint8Arrays: the loader wants Buffers. */
function revive<T>(value: T): T {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength) as T;
  if (Array.isArray(value)) return value.map((v) => revive(v)) as T;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) (value as Record<string, unknown>)[k] = revive(v);
  }
  return value;
}
