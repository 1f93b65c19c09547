// Loaded TracingPolicies: each file is read, linted (YAML, schema,
// semantics, kernel) and compiled for this kernel off the event loop
// (checker.ts), then loaded hook by hook, all or none. A broken policy is
// reported and skipped; the agent and the other policies keep running.
// A new version of a policy replaces the running one only once it is
// loaded: one that fails leaves the old one enforcing.
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

export interface PolicyState {
  name: string;
  file: string;
  state: 'loaded' | 'error';
  errors: string[];
  /** A newer version that failed; this one keeps running. */
  rejected?: string[];
  /** A policy limited to pods: what selects them, and what the kernel holds of its scope now. */
  scope?: ScopeStatus;
  hooks: HookState[];
}

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
    private readonly checker: PolicyChecker) {}

  /** Reads, lints, compiles and loads every policy of a file; returns their states. */
  async loadFile(fileArg: string): Promise<PolicyState[]> {
    const file = resolve(fileArg);
    let checked;
    try {
      checked = await this.checker.check(file, [...this.kernel().features]);
    } catch (err) {
      return [this.broke(file, [(err as Error).message])];
    }
    for (const e of checked.lint) this.log[e.severity === 'error' ? 'error' : 'warn']({ policy_file: file }, formatPolicyError(e));
    const errors = checked.lint.filter((e) => e.severity === 'error').map(formatPolicyError);
    this.broken.delete(file);
    if (!checked.policies.length && errors.length) return [this.broke(file, errors)];
    const states: PolicyState[] = [];
    for (const p of checked.policies) states.push(this.replace(p));
    // Documents that failed lint: the running version of a policy they name stays, and says why.
    for (const name of checked.names) {
      const old = this.policies.get(name);
      if (old && !checked.policies.some((p) => p.name === name)) {
        old.state.rejected = errors;
        this.log.error({ policy: name, file }, 'a new version has errors; the running version stays');
      }
    }
    // Policies the file no longer names go with the change, unless a YAML error may hide them.
    if (!checked.lint.some((e) => e.severity === 'error' && e.layer === 'yaml')) {
      for (const p of [...this.policies.values()]) {
        if (p.state.file === file && !checked.names.includes(p.state.name)) this.remove(p.state.name);
      }
    }
    return states;
  }

  /** A file none of whose documents yields a policy; the policies it held keep running. */
  private broke(file: string, errors: string[]): PolicyState {
    const state: PolicyState = { name: `(${file})`, file, state: 'error', errors, hooks: [] };
    this.broken.set(file, state);
    for (const p of this.policies.values()) if (p.state.file === file) p.state.rejected = errors;
    return state;
  }

  /** Loads a checked policy; it takes the place of the running version only once loaded. */
  private replace(p: CheckedPolicy): PolicyState {
    const loaded = this.instantiate(p);
    const old = this.policies.get(p.name);
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
  private instantiate({ name, file, compiled, placed }: CheckedPolicy): Loaded {
    const state: PolicyState = { name, file, state: 'loaded', errors: [], hooks: [] };
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

  /** Removes every policy that came from this file. */
  removeFile(fileArg: string): string[] {
    const file = resolve(fileArg);
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
