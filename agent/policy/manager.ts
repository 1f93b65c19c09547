// Loaded TracingPolicies: each file is read, linted (YAML, schema,
// semantics, kernel) and compiled for this kernel off the event loop
// (checker.ts), then loaded hook by hook, all or none. A broken policy is
// reported and skipped; the agent and the other policies keep running.
// A new version of a policy replaces the running one only once it is
// loaded: one that fails leaves the old one enforcing.
//
// Policies come from files (--policy, --policy-dir, vigil policy add) and
// from the Kubernetes API (agent/k8s/policy-watch.ts), which hands over
// each object's text. Each policy says where it came from; a name one
// source holds is refused to the other, never silently replaced.
import { resolve } from 'node:path';
import type { Logger } from '../log.js';
import { formatPolicyError } from '../../policies/validate/index.js';
import type { CompiledHook } from '../../policies/compiler/compile.js';
import type { KernelFacts } from '../../kernel/facts.js';
import { VigilError } from '../../kernel/errors.js';
import type { HookHandle } from '../sensors/hooks.js';
import type { ScopeStatus } from '../scope/policy-scope.js';
import type { CheckedPolicy, PolicyChecker } from './checker.js';

/** Puts a compiled hook into the kernel. */
export type HookLoader = (hook: CompiledHook) => HookHandle;

/** Hooks loaded between begin() and end() may go into the kernel together at end(), which names those that could not. */
export interface HookBatch {
  begin(): void;
  end(): { hookId: number; error: Error }[];
}

export interface HookState {
  path: string;
  /** skipped: the function is missing and the hook says ignore.callNotFound. */
  state: 'loaded' | 'error' | 'skipped';
  mechanism?: string;
  target?: string;
  reason?: string;
  enforcement?: string;
  error?: string;
  /** libbpf's messages about the error, the verifier log among them. */
  log?: string;
  matches: number;
  lost: number;
  /** Calls with an arg that could not be read (a faulting user page, a path too long): no filter could judge them. */
  undecided: number;
}

/** Where a policy came from: a file, or a TracingPolicy(Namespaced) object of the cluster. */
export type PolicySource =
  | { kind: 'file' }
  | { kind: 'kubernetes'; resource: 'TracingPolicy' | 'TracingPolicyNamespaced'; namespace?: string; name: string; uid: string; generation: number };

export interface PolicyState {
  /** metadata.name; namespace/name for a TracingPolicyNamespaced from the cluster. */
  name: string;
  /** The file's path, or the object it came from (TracingPolicy/NAME, TracingPolicyNamespaced/NS/NAME). */
  file: string;
  source: PolicySource;
  state: 'loaded' | 'error';
  errors: string[];
  /** A newer version that failed; this one keeps running. */
  rejected?: string[];
  /** A policy limited to pods: what selects them, and what the kernel holds of its scope now. */
  scope?: ScopeStatus;
  hooks: HookState[];
}

/** What loading a file or an object did: the policies' states, and each error this version met. */
export interface LoadOutcome {
  states: PolicyState[];
  errors: string[];
}

/** A namespaced object's policy is known by namespace/name, as two namespaces may use one name. */
const keyOf = (name: string, source: PolicySource): string =>
  (source.kind === 'kubernetes' && source.namespace ? `${source.namespace}/${name}` : name);

interface Loaded {
  state: PolicyState;
  handles: { path: string; handle: HookHandle }[];
}

export class PolicyManager {
  private readonly policies = new Map<string, Loaded>();
  /** Files whose documents did not even yield a policy name. */
  private readonly broken = new Map<string, PolicyState>();

  /** kernel: the running kernel's facts, asked for at the first policy (they take a feature probe). */
  constructor(private readonly log: Logger, private readonly load: HookLoader, private readonly kernel: () => KernelFacts,
    private readonly checker: PolicyChecker, private readonly batcher?: HookBatch) {}

  /**
   * Runs fn (loads of many policies, as at start) with its hooks put into
   * the kernel together at its end; a policy with a hook that then could
   * not run fails whole, and says why.
   */
  async batch(fn: () => Promise<void>): Promise<void> {
    if (!this.batcher) return fn();
    this.batcher.begin();
    let failed: { hookId: number; error: Error }[] = [];
    try {
      await fn();
    } finally {
      failed = this.batcher.end();
    }
    for (const f of failed) this.failHook(f.hookId, f.error);
  }

  /** A loaded policy's hook that could not run after all: the policy fails whole. */
  private failHook(hookId: number, error: Error): void {
    for (const p of this.policies.values()) {
      const failed = p.handles.find((h) => h.handle.hookId === hookId);
      if (!failed) continue;
      for (const h of p.handles.reverse()) if (h !== failed) h.handle.close();
      p.handles = [];
      const log = error instanceof VigilError ? error.log : undefined;
      p.state.hooks.push({ path: failed.path, state: 'error', error: error.message, log, matches: 0, lost: 0, undecided: 0 });
      p.state.errors.push(`${failed.path}: ${error.message}`);
      p.state.state = 'error';
      this.log.error({ policy: p.state.name, file: p.state.file, hooks: p.state.hooks }, 'policy error');
    }
  }

  /** Reads, lints, compiles and loads every policy of a file; returns their states. */
  async loadFile(fileArg: string): Promise<PolicyState[]> {
    return (await this.loadSource(resolve(fileArg), { kind: 'file' })).states;
  }

  /**
   * Lints, compiles and loads a policy given as text: a Kubernetes object
   * rendered as YAML. `origin` names it in errors (TracingPolicy/NAME).
   * Returns its state, and every error this version met, each placed as
   * `origin:line:col: field.path: message`.
   */
  loadObject(origin: string, text: string, source: PolicySource & { kind: 'kubernetes' }): Promise<LoadOutcome> {
    return this.loadSource(origin, source, text);
  }

  private async loadSource(file: string, source: PolicySource, text?: string): Promise<LoadOutcome> {
    let checked;
    try {
      checked = await this.checker.check(file, [...this.kernel().features], text);
    } catch (err) {
      const errors = [(err as Error).message];
      return { states: [this.broke(file, errors, source)], errors };
    }
    for (const e of checked.lint) this.log[e.severity === 'error' ? 'error' : 'warn']({ policy_file: file }, formatPolicyError(e));
    const errors = checked.lint.filter((e) => e.severity === 'error').map(formatPolicyError);
    this.broken.delete(file);
    if (!checked.policies.length && errors.length) return { states: [this.broke(file, errors, source)], errors };
    const states: PolicyState[] = [];
    for (const p of checked.policies) {
      const state = this.replace(p, source);
      states.push(state);
      if (state.file === file) errors.push(...(state.rejected ?? (state.state === 'error' ? state.errors : [])));
    }
    const keys = checked.names.map((n) => keyOf(n, source));
    // Documents that failed lint: the running version of a policy they name stays, and says why.
    for (const name of keys) {
      const old = this.policies.get(name);
      if (old && !checked.policies.some((p) => keyOf(p.name, source) === name)) {
        old.state.rejected = errors;
        this.log.error({ policy: name, file }, 'a new version has errors; the running version stays');
      }
    }
    // Policies the file no longer names go with the change, unless a YAML error may hide them.
    if (!checked.lint.some((e) => e.severity === 'error' && e.layer === 'yaml')) {
      for (const p of [...this.policies.values()]) {
        if (p.state.file === file && !keys.includes(p.state.name)) this.remove(p.state.name);
      }
    }
    return { states, errors };
  }

  /** A file none of whose documents yields a policy; the policies it held keep running. */
  private broke(file: string, errors: string[], source: PolicySource): PolicyState {
    const state: PolicyState = { name: `(${file})`, file, source, state: 'error', errors, hooks: [] };
    this.broken.set(file, state);
    for (const p of this.policies.values()) if (p.state.file === file) p.state.rejected = errors;
    return state;
  }

  /** Loads a checked policy; it takes the place of the running version only once loaded. */
  private replace(checked: CheckedPolicy, source: PolicySource): PolicyState {
    const p = { ...checked, name: keyOf(checked.name, source) };
    const old = this.policies.get(p.name);
    if (old && (old.state.source.kind !== source.kind || (source.kind === 'kubernetes' && old.state.file !== p.file))) {
      // Two sources, one name: the first keeps it, the second is told why.
      const error = `${p.file}: metadata.name: a policy named "${p.name}" is already loaded from ${old.state.file}; rename one of them`;
      this.log.error({ policy: p.name, file: p.file }, error);
      return { name: p.name, file: p.file, source, state: 'error', errors: [error], hooks: [] };
    }
    const loaded = this.instantiate(p, source);
    if (loaded.state.state === 'error' && old) {
      old.state.rejected = loaded.state.errors;
      this.log.error({ policy: p.name, file: p.file, errors: loaded.state.errors }, 'a new version failed to load; the running version stays');
      return this.view(old);
    }
    this.policies.set(p.name, loaded);
    if (old) this.release(old);
    this.log[loaded.state.state === 'loaded' ? 'info' : 'error']({ policy: p.name, file: p.file, hooks: this.view(loaded).hooks }, `policy ${loaded.state.state}`);
    return this.view(loaded);
  }

  /** Loads a compiled policy's hooks, all or none. */
  private instantiate({ name, file, compiled, placed }: CheckedPolicy, source: PolicySource): Loaded {
    const state: PolicyState = { name, file, source, state: 'loaded', errors: [], hooks: [] };
    const handles: Loaded['handles'] = [];
    compiled.errors.forEach((e, i) => {
      if (!e.skipped) {
        state.errors.push(placed[i]);
        return;
      }
      state.hooks.push({ path: e.path, state: 'skipped', error: e.message, matches: 0, lost: 0, undecided: 0 });
      this.log.warn({ policy: name, hook: e.path }, `hook skipped (ignore.callNotFound): ${placed[i]}`);
    });
    if (state.errors.length) {
      state.state = 'error';
      return { state, handles };
    }
    for (const hook of compiled.hooks) {
      try {
        handles.push({ path: hook.path, handle: this.load(hook) });
      } catch (err) {
        const log = err instanceof VigilError ? err.log : undefined;
        state.hooks.push({ path: hook.path, state: 'error', error: (err as Error).message, log, matches: 0, lost: 0, undecided: 0 });
      }
    }
    if (state.hooks.some((h) => h.state === 'error')) {
      // All or nothing: a half-loaded enforcement policy would mislead.
      for (const h of handles) h.handle.close();
      state.state = 'error';
      state.errors.push(...state.hooks.filter((h) => h.state === 'error').map((h) => `${h.path}: ${h.error}`));
      return { state, handles: [] };
    }
    return { state, handles };
  }

  remove(name: string): boolean {
    const p = this.policies.get(name);
    if (!p) return false;
    this.policies.delete(name);
    this.release(p);
    this.log.info({ policy: name }, 'policy removed');
    return true;
  }

  /** The source of a loaded policy, if one has that name. */
  sourceOf(name: string): PolicySource | undefined {
    return this.policies.get(name)?.state.source;
  }

  /** Removes every policy that came from this file. */
  removeFile(fileArg: string): string[] {
    return this.removeOrigin(resolve(fileArg));
  }

  /** Removes every policy that came from this origin (a file's path, or TracingPolicy/NAME). */
  removeOrigin(file: string): string[] {
    this.broken.delete(file);
    const names = [...this.policies.values()].filter((p) => p.state.file === file).map((p) => p.state.name);
    for (const n of names) this.remove(n);
    return names;
  }

  private release(p: Loaded): void {
    for (const { handle } of p.handles.reverse()) handle.close();
  }

  /** A policy's state with its hooks' live counters. */
  private view({ state, handles }: Loaded): PolicyState {
    if (state.state !== 'loaded') return state;
    const scope = handles.find((h) => h.handle.scope)?.handle.scope?.status();
    return {
      ...state,
      ...(scope ? { scope } : {}),
      hooks: [...state.hooks, ...handles.map(({ path, handle }) => ({
        path, state: 'loaded' as const, mechanism: handle.mechanism, target: handle.target, reason: handle.reason,
        enforcement: handle.enforcement, ...handle.counters(),
      }))].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true })),
    };
  }

  list(): PolicyState[] {
    return [...[...this.policies.values()].map((p) => this.view(p)), ...this.broken.values()];
  }

  close(): void {
    for (const name of [...this.policies.keys()]) this.remove(name);
  }
}
