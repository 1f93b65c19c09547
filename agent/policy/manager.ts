// Loaded TracingPolicies: each file is linted (YAML, schema, semantics,
// kernel), compiled to hook plans and loaded hook by hook. A broken policy
// is reported and skipped; the agent and the other policies keep running.
// Replacing a policy loads the new version before the old one goes.
import { resolve } from 'node:path';
import type { Logger } from '../log.js';
import { lintFile, formatPolicyError, type ValidatedPolicy } from '../../policies/validate/index.js';
import { compilePolicy, type CompiledHook } from '../../policies/compiler/compile.js';
import type { KernelFacts } from '../../kernel/facts.js';
import { VigilError } from '../../kernel/errors.js';
import type { HookHandle } from '../sensors/hooks.js';

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
  constructor(private readonly log: Logger, private readonly load: HookLoader, private readonly kernel: () => KernelFacts) {}

  /** Lints, compiles and loads every policy of a file; returns their states. */
  loadFile(fileArg: string): PolicyState[] {
    const file = resolve(fileArg);
    const lint = lintFile(file);
    const errors = lint.errors.filter((e) => e.severity === 'error');
    for (const e of lint.errors) this.log[e.severity === 'error' ? 'error' : 'warn']({ policy_file: file }, formatPolicyError(e));
    const states: PolicyState[] = [];
    this.broken.delete(file);
    if (!lint.policies.length && errors.length) {
      const state: PolicyState = { name: `(${file})`, file, state: 'error', errors: errors.map(formatPolicyError), hooks: [] };
      this.broken.set(file, state);
      return [state];
    }
    for (const v of lint.policies) {
      const loaded = this.instantiate(v);
      const old = this.policies.get(v.name);
      this.policies.set(v.name, loaded);
      if (old) this.release(old);
      states.push(this.view(loaded));
      this.log[loaded.state.state === 'loaded' ? 'info' : 'error']({ policy: v.name, file, hooks: states.at(-1)!.hooks }, `policy ${loaded.state.state}`);
    }
    // Policies this file no longer holds go with the change.
    const names = new Set(lint.policies.map((v) => v.name));
    for (const p of [...this.policies.values()]) {
      if (p.state.file === file && !names.has(p.state.name)) this.remove(p.state.name);
    }
    return states;
  }

  /** Compiles a validated policy for this kernel and loads its hooks, all or none. */
  private instantiate(v: ValidatedPolicy): Loaded {
    const compiled = compilePolicy(v.policy, this.kernel());
    const state: PolicyState = { name: v.name, file: v.file, state: 'loaded', errors: [], hooks: [] };
    const handles: Loaded['handles'] = [];
    for (const e of compiled.errors) {
      const where = formatPolicyError(v.place({ path: e.path, message: e.message, severity: e.skipped ? 'warning' : 'error' }, 'compile'));
      if (!e.skipped) {
        state.errors.push(where);
        continue;
      }
      state.hooks.push({ path: e.path, state: 'skipped', error: e.message, matches: 0, lost: 0, undecided: 0 });
      this.log.warn({ policy: v.name, hook: e.path }, `hook skipped (ignore.callNotFound): ${where}`);
    }
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
    return {
      ...state,
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
