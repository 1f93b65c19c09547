// A validated TracingPolicy to hook plans: one plan per hook, `list:NAME`
// calls expanded. A selector Vigil cannot evaluate in the kernel is an
// error, never dropped: dropping a filter would widen a Sigkill or an
// Override to processes the policy did not name.
import type { CapabilitiesSelector, KProbeArg, KProbeSelector, TracingPolicy, TracingPolicySpec } from '../types.generated.js';
import {
  canonicalArgType, ARG_OPERATORS, type ArgOperator, type ArgPlan, type HookPlan, type SelectorPlan, type ActionName,
  type CapabilityFilter, type NamespaceType,
} from './plan.js';
import { connectRules, type ConnectRule } from './connect.js';

export interface CompileError {
  /** Field path, e.g. spec.kprobes[0].selectors[1].matchNamespaces */
  path: string;
  message: string;
}

export interface ConnectHook {
  /** spec.kprobes[i] */
  path: string;
  rules: ConnectRule[];
  /** How its denials are reported: a process_kprobe of the hook with the destination as a sockaddr arg. */
  report: HookPlan;
}

export interface CompiledPolicy {
  name: string;
  plans: HookPlan[];
  /** Connect denies enforced by cgroup connect programs instead of a hook plan. */
  connect: ConnectHook[];
  errors: CompileError[];
}

/** Tetragon's other spellings of an operator. */
const OPERATOR_ALIASES: Record<string, ArgOperator> = { GreaterThan: 'GT', LessThan: 'LT', NotSportPriv: 'NotSPortPriv' };
const SUPPORTED_ACTIONS: ActionName[] = ['Post', 'NoPost', 'Sigkill', 'Signal', 'Override'];
const UNSUPPORTED_SELECTORS = ['matchReturnActions'] as const;

const capFilter = (c: CapabilitiesSelector): CapabilityFilter => ({
  type: c.type ?? 'Effective', operator: c.operator, values: c.values, isNamespaceCapability: c.isNamespaceCapability ?? false,
});

class Compiler {
  readonly errors: CompileError[] = [];
  constructor(private readonly spec: TracingPolicySpec) {}

  fail(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  args(args: KProbeArg[] | undefined, path: string): ArgPlan[] {
    const out: ArgPlan[] = [];
    (args ?? []).forEach((a, i) => {
      const type = canonicalArgType(a.type);
      if (!type) return this.fail(`${path}[${i}].type`, `argument type "${a.type}" is not supported by Vigil yet`);
      out.push({ index: a.index, type, label: a.label, maxData: a.maxData, returnCopy: a.returnCopy, sizeArgIndex: a.sizeArgIndex });
    });
    return out;
  }

  selectors(selectors: KProbeSelector[] | undefined, path: string): SelectorPlan[] {
    return (selectors ?? []).map((s, i) => {
      const at = `${path}[${i}]`;
      for (const key of UNSUPPORTED_SELECTORS) {
        if (s[key]?.length) this.fail(`${at}.${key}`, `${key} is not evaluated by Vigil's kernel programs yet`);
      }
      const filters = (field: 'matchArgs' | 'matchReturnArgs') => (s[field] ?? []).flatMap((m, j) => {
        const op = OPERATOR_ALIASES[m.operator] ?? m.operator;
        if (!(ARG_OPERATORS as readonly string[]).includes(op)) {
          this.fail(`${at}.${field}[${j}].operator`, `operator "${m.operator}" is not evaluated by Vigil's kernel programs yet`);
          return [];
        }
        // matchReturnArgs filter the return value: their index is ignored.
        const indexes = field === 'matchReturnArgs' ? [0] : m.args ?? (m.index !== undefined ? [m.index] : []);
        return indexes.map((index) => ({ index, operator: op as ArgOperator, values: m.values ?? [] }));
      });
      const matchArgs = filters('matchArgs');
      const matchReturnArgs = filters('matchReturnArgs');
      const matchActions = (s.matchActions ?? []).flatMap((a, j) => {
        if (!(SUPPORTED_ACTIONS as string[]).includes(a.action)) {
          this.fail(`${at}.matchActions[${j}].action`, `action "${a.action}" is not supported by Vigil yet`);
          return [];
        }
        return [{ action: a.action as ActionName, argSig: a.argSig, argError: a.argError, rateLimit: a.rateLimit }];
      });
      return {
        matchArgs,
        ...(matchReturnArgs.length ? { matchReturnArgs } : {}),
        matchPIDs: (s.matchPIDs ?? []).map((p) => ({
          operator: p.operator, values: p.values, followForks: p.followForks ?? false, isNamespacePID: p.isNamespacePID ?? false,
        })),
        matchBinaries: (s.matchBinaries ?? []).map((b) => ({ operator: b.operator, values: b.values, ...(b.followChildren ? { followChildren: true } : {}) })),
        ...(s.matchParentBinaries?.length ? { matchParentBinaries: s.matchParentBinaries.map((b) => ({ operator: b.operator, values: b.values })) } : {}),
        ...(s.matchNamespaces?.length ? { matchNamespaces: s.matchNamespaces.map((n) => ({ namespace: n.namespace, operator: n.operator, values: n.values })) } : {}),
        ...(s.matchNamespaceChanges?.length ? { matchNamespaceChanges: s.matchNamespaceChanges.map((n) => ({ operator: n.operator, values: n.values as NamespaceType[] })) } : {}),
        ...(s.matchCapabilities?.length ? { matchCapabilities: s.matchCapabilities.map(capFilter) } : {}),
        ...(s.matchCapabilityChanges?.length ? { matchCapabilityChanges: s.matchCapabilityChanges.map(capFilter) } : {}),
        matchActions,
      };
    });
  }

  listValues(call: string, path: string): string[] {
    const name = call.slice('list:'.length);
    const list = this.spec.lists?.find((l) => l.name === name);
    if (!list) {
      this.fail(`${path}.call`, `no list named "${name}"`);
      return [];
    }
    return list.values ?? [];
  }
}

export function compilePolicy(policy: TracingPolicy): CompiledPolicy {
  const spec = policy.spec ?? {};
  const c = new Compiler(spec);
  const name = policy.metadata.name;
  const plans: HookPlan[] = [];
  const connect: ConnectHook[] = [];
  let nextRule = 0;
  const base = (i: number, hook: { args?: KProbeArg[]; selectors?: KProbeSelector[]; message?: string; tags?: string[] }, path: string) => ({
    policyName: name,
    hookIndex: i,
    args: c.args(hook.args, `${path}.args`),
    selectors: c.selectors(hook.selectors, `${path}.selectors`),
    message: hook.message,
    tags: hook.tags,
  });

  (spec.kprobes ?? []).forEach((k, i) => {
    const path = `spec.kprobes[${i}]`;
    const rules = connectRules(k, nextRule);
    if (rules) {
      const dest = k.args?.find((a) => a.type === 'sockaddr' || a.type === 'sock');
      const report: HookPlan = {
        policyName: name, hookIndex: i, kind: 'kprobe', target: { function: k.call }, syscall: k.syscall ?? true,
        args: [{ index: dest?.index ?? 0, type: dest?.type === 'sock' ? 'sock' : 'sockaddr', ...(dest?.label ? { label: dest.label } : {}) }],
        selectors: [], message: k.message, tags: k.tags,
      };
      connect.push({ path, rules, report });
      nextRule += rules.length;
      return;
    }
    if (k.returnArgAction && k.returnArgAction !== 'Post') c.fail(`${path}.returnArgAction`, `returnArgAction ${k.returnArgAction} is not supported by Vigil yet`);
    const returnArg = k.return && k.returnArg ? c.args([k.returnArg], `${path}.returnArg`)[0] : undefined;
    const calls = k.call.startsWith('list:') ? c.listValues(k.call, path) : [k.call];
    for (const fn of calls) {
      plans.push({ ...base(i, k, path), ...(returnArg ? { returnArg } : {}), kind: 'kprobe', target: { function: fn }, syscall: k.syscall ?? true });
    }
  });
  (spec.tracepoints ?? []).forEach((tp, i) => {
    const path = `spec.tracepoints[${i}]`;
    plans.push({ ...base(i, tp, path), kind: 'tracepoint', target: { subsystem: tp.subsystem, event: tp.event }, syscall: false });
  });
  (spec.lsmhooks ?? []).forEach((h, i) => {
    const path = `spec.lsmhooks[${i}]`;
    plans.push({ ...base(i, h, path), kind: 'lsm', target: { hook: h.hook }, syscall: false });
  });
  return { name, plans, connect, errors: c.errors };
}
