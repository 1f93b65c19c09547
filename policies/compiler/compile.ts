// A validated TracingPolicy to complete hook plans for this kernel: one
// plan per hook (`list:NAME` calls expanded), each with the mechanism that
// runs it (mechanism.ts) and the bytes its programs read (encode.ts, or
// connect.ts for connect denies on cgroup programs). Nothing is loaded;
// the agent only loads what a compiled hook says. A selector Vigil cannot
// evaluate in the kernel is an error, never dropped: dropping a filter would
// widen a Sigkill or an Override to processes the policy did not name.
// A policy limited to pods (policies/scope.ts) puts its scope in every plan:
// each hook checks it in the kernel before anything else.
import type { CapabilitiesSelector, KProbeArg, KProbeSelector, TracingPolicy, TracingPolicySpec, UProbeSpec } from '../types.generated.js';
import { ElfFile } from '../../kernel/elf.js';
import type { KernelFacts } from '../../kernel/facts.js';
import { VigilError, type ErrorCode } from '../../kernel/errors.js';
import {
  canonicalArgType, hookPath, ARG_OPERATORS, type ArgOperator, type ArgPlan, type HookPlan, type SelectorPlan, type ActionName,
  type CapabilityFilter, type NamespaceType, type UprobeHookPlan,
} from './plan.js';
import { compileRules, connectFit, type ConnectPlan, type ConnectRule, type ConnectUnfit } from './connect.js';
import { encodeHook, type EncodeContext, type EncodedHook } from './encode.js';
import { chooseMechanism, type MechanismChoice } from './mechanism.js';
import { failsClosed } from '../validate/options.js';
import { REFUSED_OPERATORS } from '../validate/operators.js';
import { refusedFields } from './refused-fields.js';
import { scopeOf, type PolicyScope } from '../scope.js';
import { filteredArg, type Hook } from '../validate/hooks.js';

export interface CompileError {
  /** Field path, e.g. spec.kprobes[0].selectors[1].matchNamespaces */
  path: string;
  message: string;
  code: ErrorCode;
  /** A hook the kernel cannot run, whose ignore.callNotFound says to skip it. */
  skipped?: boolean;
}

interface CompiledHookBase {
  /** spec.kprobes[i], spec.tracepoints[i], spec.lsmhooks[i] */
  path: string;
  /** What its events report (a connect deny's: the destination as one arg). */
  plan: HookPlan;
  choice: MechanismChoice;
}

/** A hook run by one of the generic programs (kprobes/generic_*.bpf.c). */
export interface CompiledGenericHook extends CompiledHookBase {
  kind: 'generic';
  encoded: EncodedHook;
}

/** A connect deny run by the cgroup connect programs. */
export interface CompiledConnectHook extends CompiledHookBase {
  kind: 'connect';
  rules: ConnectRule[];
  connect: ConnectPlan;
  /** The selectors' process filters, encoded as a generic hook's (rodata vigil_hook and its value maps); absent: none. */
  process?: { plan: HookPlan; encoded: EncodedHook };
}

export type CompiledHook = CompiledGenericHook | CompiledConnectHook;

export interface CompiledPolicy {
  name: string;
  hooks: CompiledHook[];
  errors: CompileError[];
}

/** Tetragon's other spellings of an operator. */
const OPERATOR_ALIASES: Record<string, ArgOperator> = { GreaterThan: 'GT', LessThan: 'LT', NotSportPriv: 'NotSPortPriv' };
const SUPPORTED_ACTIONS: ActionName[] = ['Post', 'NoPost', 'Sigkill', 'Signal', 'Override'];

/** Why an action is refused. */
const ACTION_WHY: Record<string, string> = {
  TrackSock: 'sockets are not tracked: Vigil keeps no map from sockets to the processes that own them',
  UntrackSock: 'sockets are not tracked: Vigil keeps no map from sockets to the processes that own them',
  NotifyEnforcer: 'Vigil loads no enforcer programs: deny a syscall with Override on its kprobe (fmod_ret at entry) or on an LSM hook, or kill with Sigkill',
  CleanupEnforcerNotification: 'Vigil loads no enforcer programs, so there is no notification to clean up',
  GetUrl: 'the kernel programs make no requests: an HTTP fetch to signal an external observer is not sent',
  DnsLookup: 'the kernel programs make no requests: a DNS lookup to signal an external observer is not made',
  Set: 'arguments are read, never written: Vigil does not change what a function is called with',
};

const capFilter = (c: CapabilitiesSelector): CapabilityFilter => ({
  type: c.type ?? 'Effective', operator: c.operator, values: c.values, isNamespaceCapability: c.isNamespaceCapability ?? false,
});

class Compiler {
  readonly errors: CompileError[] = [];
  constructor(private readonly spec: TracingPolicySpec) {}

  fail(path: string, message: string, code: ErrorCode = 'VIGIL_NOT_SUPPORTED'): void {
    this.errors.push({ path, message, code });
  }

  args(args: KProbeArg[] | undefined, path: string): ArgPlan[] {
    const out: ArgPlan[] = [];
    (args ?? []).forEach((a, i) => {
      // nop holds an index without reading it: nothing to read or report.
      if (a.type === 'nop') return;
      const type = canonicalArgType(a.type);
      if (!type) return this.fail(`${path}[${i}].type`, `argument type "${a.type}" is not supported by Vigil yet`);
      out.push({ index: a.index, type, label: a.label, maxData: a.maxData, returnCopy: a.returnCopy, sizeArgIndex: a.sizeArgIndex });
    });
    return out;
  }

  /** args: the hook's declared args, to which matchArgs refer (their index, or a position in the list). */
  selectors(selectors: KProbeSelector[] | undefined, path: string, hook: Pick<Hook, 'kind' | 'args'> = { kind: 'kprobe', args: [] }): SelectorPlan[] {
    return (selectors ?? []).map((s, i) => {
      const at = `${path}[${i}]`;
      const filters = (field: 'matchArgs' | 'matchReturnArgs') => (s[field] ?? []).flatMap((m, j) => {
        const op = OPERATOR_ALIASES[m.operator] ?? m.operator;
        if (!(ARG_OPERATORS as readonly string[]).includes(op)) {
          const why = REFUSED_OPERATORS[m.operator as keyof typeof REFUSED_OPERATORS];
          this.fail(`${at}.${field}[${j}].operator`, why ? `operator "${m.operator}" is refused: ${why}` : `operator "${m.operator}" is not evaluated by Vigil's kernel programs yet`);
          return [];
        }
        // matchReturnArgs filter the return value: their index is ignored. args: positions in the hook's args;
        // index: an arg's index (on tracepoints, a position, as Tetragon reads it). The plan names args by index.
        const byPosition = (k: number) => hook.args[k]?.index ?? k;
        const indexes = field === 'matchReturnArgs' ? [0]
          : m.args ? m.args.map(byPosition) : m.index !== undefined ? [filteredArg(hook, m.index)?.index ?? m.index] : [];
        return indexes.map((index) => ({ index, operator: op as ArgOperator, values: m.values ?? [] }));
      });
      const matchArgs = filters('matchArgs');
      const matchReturnArgs = filters('matchReturnArgs');
      const matchActions = (s.matchActions ?? []).flatMap((a, j) => {
        if (!(SUPPORTED_ACTIONS as string[]).includes(a.action)) {
          this.fail(`${at}.matchActions[${j}].action`, `action "${a.action}" is not supported by Vigil${ACTION_WHY[a.action] ? `: ${ACTION_WHY[a.action]}` : ' yet'}`);
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

  /** The probes of one uprobe: one per symbol, offset or address (an address becomes its file offset). */
  uprobeTargets(u: UProbeSpec, path: string): UprobeHookPlan['target'][] {
    const given = (['symbols', 'offsets', 'addrs'] as const).filter((k) => u[k]?.length);
    if (given.length !== 1) {
      this.fail(path, `a uprobe needs exactly one of symbols, offsets and addrs (${given.length ? `it has ${given.join(' and ')}` : 'it has none'})`, 'VIGIL_POLICY_INVALID');
      return [];
    }
    const ref = u.refCtrOffsets ?? [];
    const at = (j: number) => (ref[j] ? { refCtrOffset: ref[j] } : {});
    if (u.symbols?.length) return u.symbols.map((symbol, j) => ({ path: u.path, symbol, offset: 0, ...at(j) }));
    if (u.offsets?.length) return u.offsets.map((offset, j) => ({ path: u.path, offset, ...at(j) }));
    let elf: ElfFile;
    try {
      elf = ElfFile.open(u.path);
    } catch (err) {
      this.fail(`${path}.path`, (err as VigilError).detail ?? String(err), 'VIGIL_POLICY_INVALID');
      return [];
    }
    try {
      return u.addrs!.flatMap((addr, j) => {
        const offset = elf.fileOffset(addr);
        if (offset === undefined) {
          this.fail(`${path}.addrs[${j}]`, `address 0x${addr.toString(16)} is in no loaded segment of ${u.path}`, 'VIGIL_POLICY_INVALID');
          return [];
        }
        return [{ path: u.path, offset, ...at(j) }];
      });
    } finally {
      elf.close();
    }
  }

  listValues(call: string, path: string): string[] {
    const name = call.slice('list:'.length);
    const list = this.spec.lists?.find((l) => l.name === name);
    if (!list) {
      this.fail(`${path}.call`, `no list named "${name}"`, 'VIGIL_POLICY_INVALID');
      return [];
    }
    if (list.type === 'generated_syscalls' || list.type === 'generated_ftrace') {
      // Expanding to nothing would silently drop the hook.
      this.fail(`${path}.call`, `list "${name}" is of type ${list.type}, which Vigil does not expand yet`);
      return [];
    }
    return list.values ?? [];
  }
}

/**
 * One plan, complete for this kernel: its mechanism and its bytes. Throws
 * a VigilError (its field the policy field at fault) when it cannot run.
 * rules and report: a connect deny the cgroup programs may enforce;
 * unfit: a connect deny they cannot, and why.
 */
export function compilePlan(plan: HookPlan, kernel: KernelFacts, rules?: ConnectRule[], report?: HookPlan, unfit?: ConnectUnfit): CompiledHook {
  const path = hookPath(plan);
  const choice = connectMechanism(plan, kernel, rules !== undefined, unfit);
  if (choice.mechanism === 'cgroup_connect') {
    const process = processFilters(plan, { choice, hostNs: (t) => kernel.hostNamespace(t) });
    return { kind: 'connect', path, plan: report ?? plan, choice, rules: rules!, connect: compileRules(rules!), ...(process ? { process } : {}) };
  }
  let fields;
  if (choice.mechanism === 'tracepoint' && plan.kind === 'tracepoint') {
    fields = kernel.tracepointFields(plan.target.subsystem, plan.target.event);
    if (!fields) throw new VigilError('VIGIL_NOT_SUPPORTED', `tracepoint ${plan.target.subsystem}/${plan.target.event} does not exist in this kernel (no format in tracefs)`, { field: path });
  }
  return { kind: 'generic', path, plan, choice, encoded: encodeHook(plan, { choice, fields, hostNs: (t) => kernel.hostNamespace(t) }) };
}

/**
 * chooseMechanism() for a hook that may be a connect deny. One the cgroup
 * programs would run but for one field, on a kernel that has them, fails
 * at that field: it is what to change.
 */
function connectMechanism(plan: HookPlan, kernel: KernelFacts, fits: boolean, unfit?: ConnectUnfit): MechanismChoice {
  try {
    return chooseMechanism(plan, kernel, fits || (unfit ? `${unfit.field}: ${unfit.why}` : false));
  } catch (err) {
    const cgroup = kernel.features.find((f) => f.feature === 'cgroup_hooks')?.works;
    if (!unfit || !cgroup || !(err instanceof VigilError) || err.field) throw err;
    throw new VigilError(err.code, err.detail, { field: unfit.field, cause: err });
  }
}

/** compilePlan(), its problem recorded as a CompileError at the field it is about. */
function compileHook(c: Compiler, kernel: KernelFacts, h: PendingHook): CompiledHook | undefined {
  try {
    return compilePlan(h.plan, kernel, h.rules, h.report, h.unfit);
  } catch (err) {
    if (!(err instanceof VigilError)) throw err;
    const skipped = h.skippable && err.code === 'VIGIL_NOT_SUPPORTED';
    c.errors.push({ path: err.field ?? hookPath(h.plan), message: err.detail, code: err.code, ...(skipped ? { skipped } : {}) });
    return undefined;
  }
}

interface PendingHook {
  plan: HookPlan;
  /** ignore.callNotFound: a hook this kernel cannot run is skipped, not an error. */
  skippable: boolean;
  rules?: ConnectRule[];
  report?: HookPlan;
  unfit?: ConnectUnfit;
}

/**
 * The process filters of a connect deny's selectors, encoded for the
 * cgroup programs (generic_process.h): selector i keeps its index, and
 * only matchPIDs, matchBinaries and matchNamespaces. Undefined: none.
 */
function processFilters(plan: HookPlan, ctx: EncodeContext): CompiledConnectHook['process'] {
  if (!plan.selectors.some((s) => s.matchPIDs.length || s.matchBinaries.length || s.matchNamespaces?.length)) return undefined;
  const selectors = plan.selectors.map((s) => ({ matchArgs: [], matchPIDs: s.matchPIDs, matchBinaries: s.matchBinaries, matchNamespaces: s.matchNamespaces, matchActions: [] }));
  const processPlan: HookPlan = { ...plan, args: [], returnArg: undefined, selectors };
  return { plan: processPlan, encoded: encodeHook(processPlan, ctx) };
}

/** The report plan of a connect deny: its denials are process_kprobe events with the destination as the one arg. */
function connectReport(name: string, i: number, k: NonNullable<TracingPolicySpec['kprobes']>[number], scope?: PolicyScope): HookPlan {
  const dest = k.args?.find((a) => a.type === 'sockaddr' || a.type === 'sock');
  return {
    policyName: name, hookIndex: i, kind: 'kprobe', target: { function: k.call }, syscall: k.syscall ?? true,
    args: [{ index: dest?.index ?? 0, type: dest?.type === 'sock' ? 'sock' : 'sockaddr', ...(dest?.label ? { label: dest.label } : {}) }],
    selectors: [], message: k.message, tags: k.tags, ...(scope ? { scope } : {}),
  };
}

export function compilePolicy(policy: TracingPolicy, kernel: KernelFacts): CompiledPolicy {
  const spec = policy.spec ?? {};
  const c = new Compiler(spec);
  for (const r of refusedFields(spec)) c.fail(r.path, r.message);
  const name = policy.metadata.name;
  const plans: PendingHook[] = [];
  let nextRule = 0;
  const failClosed = failsClosed(spec);
  // Every hook of a policy limited to pods checks its scope in the kernel,
  // first thing. A kernel that cannot tell a task's cgroups refuses the
  // policy: run host-wide, it would act on every process of the host.
  const scoped = scopeOf(policy);
  const scope = scoped?.scope;
  const scopeFeature = kernel.features.find((f) => f.feature === 'cgroup_scope');
  if (scoped && !scopeFeature?.works) {
    c.fail(scoped.path, `a policy limited to pods needs cgroup_scope, which is not supported by this kernel: ${scopeFeature?.reason ?? 'not probed'}`);
  }
  const base = (i: number, hook: { args?: KProbeArg[]; selectors?: KProbeSelector[]; message?: string; tags?: string[] }, path: string) => {
    const kind: Hook['kind'] = path.startsWith('spec.tracepoints') ? 'tracepoint' : 'kprobe';
    return {
    policyName: name,
    hookIndex: i,
    args: c.args(hook.args, `${path}.args`),
    selectors: c.selectors(hook.selectors, `${path}.selectors`, { kind, args: hook.args ?? [] }),
    message: hook.message,
    tags: hook.tags,
    ...(failClosed ? { failClosed } : {}),
    ...(scope ? { scope } : {}),
    };
  };

  (spec.kprobes ?? []).forEach((k, i) => {
    const path = `spec.kprobes[${i}]`;
    const skippable = k.ignore?.callNotFound === true;
    const fit = connectFit(k, nextRule, path);
    const rules = fit && 'rules' in fit ? fit.rules : undefined;
    const unfit = fit && 'unfit' in fit ? fit.unfit : undefined;
    if (rules) nextRule += rules.length;
    if (k.return && k.returnArgAction && k.returnArgAction !== 'Post') c.fail(`${path}.returnArgAction`, `returnArgAction ${k.returnArgAction} is not supported by Vigil${ACTION_WHY[k.returnArgAction] ? `: ${ACTION_WHY[k.returnArgAction]}` : ' yet'}`);
    const returnArg = k.return && k.returnArg ? c.args([k.returnArg], `${path}.returnArg`)[0] : undefined;
    const calls = k.call.startsWith('list:') ? c.listValues(k.call, path) : [k.call];
    for (const fn of calls) {
      const plan: HookPlan = { ...base(i, k, path), ...(returnArg ? { returnArg } : {}), kind: 'kprobe', target: { function: fn }, syscall: k.syscall ?? true };
      plans.push({ plan, skippable, ...(rules ? { rules, report: connectReport(name, i, k, scope) } : {}), ...(unfit ? { unfit } : {}) });
    }
  });
  (spec.tracepoints ?? []).forEach((tp, i) => {
    const path = `spec.tracepoints[${i}]`;
    plans.push({ plan: { ...base(i, tp, path), kind: 'tracepoint', target: { subsystem: tp.subsystem, event: tp.event }, syscall: false }, skippable: false });
  });
  (spec.lsmhooks ?? []).forEach((h, i) => {
    const path = `spec.lsmhooks[${i}]`;
    plans.push({ plan: { ...base(i, h, path), kind: 'lsm', target: { hook: h.hook }, syscall: false }, skippable: false });
  });
  (spec.uprobes ?? []).forEach((u, i) => {
    const path = `spec.uprobes[${i}]`;
    const returnArg = u.return && u.returnArg ? c.args([u.returnArg], `${path}.returnArg`)[0] : undefined;
    for (const target of c.uprobeTargets(u, path)) {
      plans.push({ plan: { ...base(i, u, path), ...(returnArg ? { returnArg } : {}), kind: 'uprobe', target, syscall: false }, skippable: false });
    }
  });
  // A policy whose selectors do not compile loads nothing: every hook or none.
  if (c.errors.length) return { name, hooks: [], errors: c.errors };
  const hooks = plans.flatMap((p) => compileHook(c, kernel, p) ?? []);
  return { name, hooks, errors: c.errors };
}
