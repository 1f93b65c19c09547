// How each hook runs in this kernel, as one table. For each kind of hook,
// the mechanisms in the order Vigil prefers them, the probed feature each
// needs (kernel/features.ts), the BPF programs and how they attach, and
// the enforcement each guarantees. chooseMechanism() takes the first row
// that applies to the hook and whose feature works, and says why the
// better rows were passed over.
//
//   exec           execve and execveat hooks that kill or signal, filtering only
//                  the filename: judged by the file the kernel executes, not
//                  the string the caller passed. kprobe, then fentry, on
//                  security_bprm_check (each file of the exec: a #! script,
//                  then its interpreter); tp_btf/sched_process_exec (the file
//                  executed, and a script by the name the kernel was given).
//                  Other exec hooks keep the syscall's view below: the
//                  filename string as passed, failed execs included.
//   call           kprobe; fentry; for syscalls, the syscalls/sys_enter_<name>
//                  tracepoint, then raw_syscalls/sys_enter through Vigil's
//                  dispatcher (x86-64, tp_btf). The tracepoint comes before
//                  the dispatcher: measured side by side (docs/benchmarks.md),
//                  it costs the same per hooked call and less for every
//                  other syscall.
//   call+Override  cgroup connect programs, for connect denies on destination
//                  address, port and protocol only (no BPF LSM needed);
//                  fmod_ret (bpf_override_return is not used)
//   return probe   kretprobe (a kprobe at entry); fexit (fentry at entry); for
//                  syscalls the sys_exit_<name> tracepoint (sys_enter_<name>
//                  at entry). matchActions run at entry, as Tetragon runs
//                  them; the event is posted at return.
//   return+Override  fexit with fmod_ret at entry: its result, argError,
//                  skips the function and is what fexit sees returned.
//   tracepoint     tracepoint (Override refused)
//   lsm            BPF LSM
//   uprobe         uprobe on the file (a symbol or a file offset), for every
//                  process that maps it; return probes: a uprobe at entry and a
//                  uretprobe. Override is refused: a uprobe program cannot make
//                  the function return early.
//   Sigkill/Signal also need bpf_send_signal.
//
// Enforcement is never weakened silently: a hook no row can run as written
// is a NotSupportedError naming the missing feature.
import type { KernelFacts, FeatureState } from '../../kernel/facts.js';
import { NotSupportedError, VigilError } from '../../kernel/errors.js';
import { syscallName } from '../../kernel/syscalls/names.js';
import { X64_SYSCALL_NUMBERS } from '../../kernel/syscalls/numbers.generated.js';
import { hookName, planActions, uprobeWhere, type HookPlan, type UprobeHookPlan } from './plan.js';

export type Mechanism =
  | 'exec_kprobe' | 'exec_fentry' | 'exec'
  | 'kprobe' | 'fentry' | 'fmod_ret' | 'syscall_dispatch' | 'tracepoint' | 'lsm' | 'kretprobe' | 'fexit' | 'cgroup_connect'
  | 'uprobe' | 'uretprobe';

/** How a program is attached: kprobe/kretprobe by name, a BPF trampoline or LSM target set before load, a tracepoint, a BTF tracepoint named by its section, the syscall dispatcher's table, or a cgroup. */
export type Attach = 'kprobe' | 'kretprobe' | 'trampoline' | 'tracepoint' | 'tp_btf' | 'dispatch' | 'cgroup' | 'uprobe' | 'uretprobe';

/**
 * Exec mechanisms: how the program gets the exec's filename arg. binprm:
 * security_bprm_check's arg 0, read as a linux_binprm (the path of its
 * file); path: the program hands a resolved path, a string in kernel memory.
 */
export type ExecFile = 'binprm' | 'path';

/** What the kernel guarantees: an event, a signal to the task, or a changed return value. */
export type Enforcement = 'post' | 'signal' | 'override';

export type MechanismTarget =
  | { function: string }
  | { subsystem: string; event: string }
  | { hook: string }
  | { cgroup: string }
  /** A user-space function: the file, and the symbol libbpf resolves or a file offset. */
  | { binary: string; symbol?: string; offset: number; refCtrOffset?: number };

/** The kind of hook a row serves. */
export type HookNeed = 'call' | 'call-override' | 'call-return' | 'call-return-override' | 'tracepoint' | 'lsm' | 'uprobe' | 'uprobe-return';

/** What a row is told about the hook it might run. */
interface Hook {
  plan: HookPlan;
  kernel: KernelFacts;
  /** Syscall hooks: the syscall's bare name (openat). */
  syscall?: string;
  /** The kernel function (__x64_sys_openat for syscalls). */
  fn: string;
  /** cgroup_connect: whether the selectors are destination rules only. */
  connectRules: boolean;
  /** cgroup_connect: why a connect deny's selectors are not (the field at fault first). */
  connectUnfit?: string;
}

/** The filename arg of the exec syscalls: execve(filename, …), execveat(dirfd, filename, …). */
const EXEC_FILENAME: Readonly<Record<string, number>> = { execve: 0, execveat: 1 };
const isExecSyscall = (h: Hook): boolean => h.syscall !== undefined && h.syscall in EXEC_FILENAME;

/** Why an exec hook cannot be judged by the executed file, or undefined. */
function execUnfit(h: Hook): string | undefined {
  const actions = planActions(h.plan);
  if (!actions.has('Sigkill') && !actions.has('Signal')) {
    return 'the hook neither kills nor signals, so it keeps the syscall\'s view: the filename string as the caller passed it, failed execs included';
  }
  const at = EXEC_FILENAME[h.syscall!];
  const other = h.plan.args.find((a) => a.index !== at);
  if (other) return `it reads arg ${other.index}, and only the filename (arg ${at}) is known where the executed file is`;
  const typed = h.plan.args.find((a) => a.type !== 'string');
  if (typed) return `the filename is declared ${typed.type}, not string`;
  return undefined;
}

/** Process filters that describe the caller, which sched_process_exec has already replaced by the new image. */
const CALLER_FILTERS = ['matchBinaries', 'matchCapabilities', 'matchCapabilityChanges', 'matchNamespaceChanges'] as const;

function afterExecUnfit(h: Hook): string | undefined {
  const caller = CALLER_FILTERS.find((f) => h.plan.selectors.some((s) => s[f]?.length));
  return execUnfit(h) ?? (caller ? `${caller} describes the caller, and at sched_process_exec the process already is the new image` : undefined);
}

const EXEC_JUDGED = 'judged by the file the kernel executes, whatever the entry (execve, execveat, 32-bit)';

export interface MechanismRow {
  mechanism: Mechanism;
  serves: HookNeed;
  /** The probed feature it needs. */
  feature: string;
  /** Only for some hooks (exec enforcement); rows that do not apply are passed over silently. */
  applies?: (h: Hook) => boolean;
  /** Exec mechanisms: how the program reads the filename arg. */
  execFile?: ExecFile;
  /** The BPF object (kprobes/<object>.bpf.c) and its program; return probes have an entry program too. */
  object: string;
  program: string;
  entryProgram?: string;
  attach: Attach;
  enforcement: readonly Enforcement[];
  /** Why it cannot run this hook, when it cannot; undefined when it can. */
  unfit?: (h: Hook) => string | undefined;
  /** The program's target and entry target. */
  target: (h: Hook) => { target: MechanismTarget; entry?: MechanismTarget; syscallNr?: number };
  /** How it runs the hook, for `vigil policy list`. */
  how: (h: Hook) => string;
}

const uprobeTarget = (h: Hook): MechanismTarget => {
  const t = (h.plan as UprobeHookPlan).target;
  return { binary: t.path, offset: t.offset, ...(t.symbol ? { symbol: t.symbol } : {}), ...(t.refCtrOffset ? { refCtrOffset: t.refCtrOffset } : {}) };
};
const fnTarget = (h: Hook) => ({ target: { function: h.fn } });
const fnWithEntry = (h: Hook) => ({ target: { function: h.fn }, entry: { function: h.fn } });
const syscallOnly = (h: Hook): string | undefined => (h.syscall ? undefined : 'only for syscalls');
const tracepointMissing = (h: Hook, ...events: string[]): string | undefined => {
  const missing = events.find((e) => !h.kernel.tracepointFields('syscalls', e));
  return missing ? `this kernel has no tracepoint syscalls/${missing}` : undefined;
};
/** What to hook instead where fmod_ret may not change a function: the kernel lets it change every security_* function. */
const LSM_INSTEAD = 'deny at the LSM hook the call reaches instead (a security_* kprobe or an lsmhook), which fmod_ret and BPF LSM may change on every kernel';
const notModifiable = (h: Hook): string | undefined =>
  (h.kernel.modifiableReturn(h.fn) === false ? `the kernel does not let fmod_ret change ${h.fn}'s return value (it is not on the error-injection list); ${LSM_INSTEAD}` : undefined);
const syscallNr = (h: Hook): number | undefined => (h.syscall && h.kernel.arch === 'x64' ? X64_SYSCALL_NUMBERS[h.syscall] : undefined);

export const MECHANISMS: readonly MechanismRow[] = [
  {
    mechanism: 'exec_kprobe', serves: 'call', feature: 'kprobes', object: 'generic_kprobe', program: 'vigil_generic_kprobe',
    attach: 'kprobe', enforcement: ['post', 'signal'], applies: isExecSyscall, unfit: execUnfit, execFile: 'binprm',
    target: () => ({ target: { function: 'security_bprm_check' } }),
    how: (h) => `${h.fn} ${EXEC_JUDGED}: kprobe on security_bprm_check, for each file of the exec (a #! script, then its interpreter)`,
  },
  {
    mechanism: 'exec_fentry', serves: 'call', feature: 'fentry', object: 'generic_fentry', program: 'vigil_generic_fentry',
    attach: 'trampoline', enforcement: ['post', 'signal'], applies: isExecSyscall, unfit: execUnfit, execFile: 'binprm',
    target: () => ({ target: { function: 'security_bprm_check' } }),
    how: (h) => `${h.fn} ${EXEC_JUDGED}: fentry on security_bprm_check, for each file of the exec (a #! script, then its interpreter)`,
  },
  {
    mechanism: 'exec', serves: 'call', feature: 'tp_btf', object: 'generic_exec', program: 'vigil_generic_exec',
    attach: 'tp_btf', enforcement: ['post', 'signal'], applies: isExecSyscall, unfit: afterExecUnfit, execFile: 'path',
    target: () => ({ target: { subsystem: 'sched', event: 'sched_process_exec' } }),
    how: (h) => `${h.fn} ${EXEC_JUDGED}: tp_btf/sched_process_exec, on the file executed (a #! script's interpreter) and a script by the name the kernel was given; the signal lands before the new image's first instruction`,
  },
  {
    mechanism: 'kprobe', serves: 'call', feature: 'kprobes', object: 'generic_kprobe', program: 'vigil_generic_kprobe',
    attach: 'kprobe', enforcement: ['post', 'signal'], target: fnTarget, how: (h) => `kprobe on ${h.fn}`,
  },
  {
    mechanism: 'fentry', serves: 'call', feature: 'fentry', object: 'generic_fentry', program: 'vigil_generic_fentry',
    attach: 'trampoline', enforcement: ['post', 'signal'], target: fnTarget, how: (h) => `fentry on ${h.fn}`,
  },
  {
    mechanism: 'tracepoint', serves: 'call', feature: 'tracepoints', object: 'generic_tracepoint', program: 'vigil_generic_tp',
    attach: 'tracepoint', enforcement: ['post', 'signal'],
    unfit: (h) => syscallOnly(h) ?? tracepointMissing(h, `sys_enter_${h.syscall}`),
    target: (h) => ({ target: { subsystem: 'syscalls', event: `sys_enter_${h.syscall}` } }),
    how: (h) => `syscall hook on tracepoint syscalls/sys_enter_${h.syscall}`,
  },
  {
    mechanism: 'syscall_dispatch', serves: 'call', feature: 'tp_btf', object: 'generic_syscall', program: 'vigil_generic_syscall',
    attach: 'dispatch', enforcement: ['post', 'signal'],
    unfit: (h) => syscallOnly(h) ?? (syscallNr(h) === undefined ? `Vigil's dispatcher knows x86-64 syscall numbers, not ${h.syscall} on ${h.kernel.arch}` : undefined),
    target: (h) => ({ target: { subsystem: 'raw_syscalls', event: 'sys_enter' }, syscallNr: syscallNr(h) }),
    how: (h) => `syscall hook on raw_syscalls/sys_enter, dispatched by syscall number ${syscallNr(h)}`,
  },
  {
    mechanism: 'cgroup_connect', serves: 'call-override', feature: 'cgroup_hooks', object: 'cgroup_connect', program: 'vigil_connect4',
    attach: 'cgroup', enforcement: ['override'],
    unfit: (h) => (h.connectRules ? undefined : h.connectUnfit ?? 'its selectors are more than connect destinations, protocols, families and process filters with Override'),
    target: (h) => ({ target: { cgroup: h.kernel.cgroupRoot() } }),
    how: (h) => `cgroup/connect4, connect6, sendmsg4 and sendmsg6 programs on ${h.kernel.cgroupRoot()} refuse denied destinations with EPERM for the processes below it that the selectors name; needs no BPF LSM`,
  },
  {
    mechanism: 'fmod_ret', serves: 'call-override', feature: 'fmod_ret', object: 'generic_fentry', program: 'vigil_generic_fmod_ret',
    attach: 'trampoline', enforcement: ['post', 'signal', 'override'],
    unfit: notModifiable,
    target: fnTarget, how: (h) => `Override on ${h.fn}: an fmod_ret program returns argError (bpf_override_return is not used)`,
  },
  {
    mechanism: 'kretprobe', serves: 'call-return', feature: 'kretprobes', object: 'generic_kretprobe', program: 'vigil_generic_kretprobe',
    entryProgram: 'vigil_generic_kretprobe_entry', attach: 'kretprobe', enforcement: ['post', 'signal'],
    target: fnWithEntry, how: (h) => `kretprobe on ${h.fn}, with a kprobe at entry`,
  },
  {
    mechanism: 'fexit', serves: 'call-return', feature: 'fexit', object: 'generic_fexit', program: 'vigil_generic_fexit',
    entryProgram: 'vigil_generic_fexit_entry', attach: 'trampoline', enforcement: ['post', 'signal'],
    target: fnWithEntry, how: (h) => `fexit on ${h.fn}, with fentry at entry`,
  },
  {
    mechanism: 'fexit', serves: 'call-return-override', feature: 'fmod_ret', object: 'generic_fexit', program: 'vigil_generic_fexit',
    entryProgram: 'vigil_generic_fexit_fmod_ret', attach: 'trampoline', enforcement: ['post', 'signal', 'override'],
    unfit: (h) => (!works(h.kernel.features, 'fexit') ? missing(h.kernel.features, 'fexit') : notModifiable(h)),
    target: fnWithEntry, how: (h) => `fexit on ${h.fn}, with fmod_ret at entry: matchActions run there, and Override's argError skips the function and is its return value`,
  },
  {
    mechanism: 'tracepoint', serves: 'call-return', feature: 'tracepoints', object: 'generic_tracepoint_exit', program: 'vigil_generic_tp_sys_exit',
    entryProgram: 'vigil_generic_tp_sys_enter', attach: 'tracepoint', enforcement: ['post', 'signal'],
    unfit: (h) => syscallOnly(h) ?? tracepointMissing(h, `sys_enter_${h.syscall}`, `sys_exit_${h.syscall}`),
    target: (h) => ({ target: { subsystem: 'syscalls', event: `sys_exit_${h.syscall}` }, entry: { subsystem: 'syscalls', event: `sys_enter_${h.syscall}` } }),
    how: (h) => `syscall return probe on tracepoint syscalls/sys_exit_${h.syscall}, with sys_enter_${h.syscall} at entry`,
  },
  {
    mechanism: 'tracepoint', serves: 'tracepoint', feature: 'tracepoints', object: 'generic_tracepoint', program: 'vigil_generic_tp',
    attach: 'tracepoint', enforcement: ['post', 'signal'],
    target: (h) => ({ target: { ...(h.plan.target as { subsystem: string; event: string }) } }), how: () => 'tracepoint hook',
  },
  {
    mechanism: 'uprobe', serves: 'uprobe', feature: 'uprobes', object: 'generic_uprobe', program: 'vigil_generic_uprobe',
    attach: 'uprobe', enforcement: ['post', 'signal'], target: (h) => ({ target: uprobeTarget(h) }),
    how: (h) => `uprobe on ${targetName(uprobeTarget(h))}, for every process that maps the file`,
  },
  {
    mechanism: 'uretprobe', serves: 'uprobe-return', feature: 'uprobes', object: 'generic_uprobe', program: 'vigil_generic_uretprobe',
    entryProgram: 'vigil_generic_uretprobe_entry', attach: 'uretprobe', enforcement: ['post', 'signal'],
    target: (h) => ({ target: uprobeTarget(h), entry: uprobeTarget(h) }),
    how: (h) => `uretprobe on ${targetName(uprobeTarget(h))}, with a uprobe at entry, for every process that maps the file`,
  },
  {
    mechanism: 'lsm', serves: 'lsm', feature: 'bpf_lsm', object: 'generic_lsm', program: 'vigil_generic_lsm',
    attach: 'trampoline', enforcement: ['post', 'signal', 'override'],
    target: (h) => ({ target: { hook: h.fn } }),
    how: (h) => (planActions(h.plan).has('Override') ? 'LSM hook; Override returns argError from the BPF LSM program' : 'LSM hook'),
  },
];

export interface MechanismChoice {
  mechanism: Mechanism;
  /** What the program attaches to: a kernel function, a tracepoint, an LSM hook or a cgroup. */
  target: MechanismTarget;
  /** Return probes: where the entry program attaches. */
  entry?: MechanismTarget;
  /** Why this mechanism, including why better ones were passed over. */
  reason: string;
  /** The probed features it relies on. */
  features: string[];
  /** Syscall hooks: the syscall's arguments sit behind the wrapper's pt_regs (kprobe, fentry) or in the tracepoint's args[]. */
  syscall: boolean;
  /** The function name events report (Tetragon's function_name): __x64_sys_openat for syscalls. */
  functionName: string;
  /** syscall_dispatch: the syscall's number. */
  syscallNr?: number;
  /** Exec mechanisms: how the program reads the filename arg (the hook's args are then not the syscall's). */
  execFile?: ExecFile;
  object: string;
  program: string;
  entryProgram?: string;
  attach: Attach;
  enforcement: readonly Enforcement[];
}

export const targetName = (t: MechanismTarget): string =>
  'function' in t ? t.function : 'hook' in t ? t.hook : 'cgroup' in t ? t.cgroup
    : 'binary' in t ? `${t.binary}:${t.symbol ?? `0x${t.offset.toString(16)}`}` : `${t.subsystem}/${t.event}`;

function works(features: readonly FeatureState[], id: string): boolean {
  return features.find((f) => f.feature === id)?.works === true;
}

/** Why a feature is missing, in words about this kernel rather than the probe's own attempt. */
function missing(features: readonly FeatureState[], id: string): string {
  const f = features.find((x) => x.feature === id);
  if (!f) return `${id} was not probed`;
  if (f.reason?.includes('--disable-feature')) return `${id} disabled by --disable-feature`;
  return `this kernel has no ${id} (vigil probe)`;
}

/** The kind of hook a plan is, or why no mechanism can run it as written. */
function needOf(plan: HookPlan): HookNeed {
  const override = planActions(plan).has('Override');
  switch (plan.kind) {
    case 'lsm': return 'lsm';
    case 'uprobe':
      if (override) {
        throw new NotSupportedError('override', `${hookName(plan)} has an Override action; a uprobe program cannot make a user-space function return early, so Vigil refuses it rather than only report (use Sigkill or Signal to stop the process)`);
      }
      return plan.returnArg ? 'uprobe-return' : 'uprobe';
    case 'tracepoint':
      if (override) throw new NotSupportedError('override', `${hookName(plan)} has an Override action, and a tracepoint cannot change what the kernel does`);
      return 'tracepoint';
    case 'kprobe':
      if (plan.returnArg) return override ? 'call-return-override' : 'call-return';
      return override ? 'call-override' : 'call';
  }
}

const NEEDS_WORDS: Record<HookNeed, string> = {
  call: 'kprobes or fentry', 'call-override': 'fmod_ret', 'call-return': 'kretprobes or fexit', 'call-return-override': 'fmod_ret and fexit', tracepoint: 'tracepoints', lsm: 'BPF LSM programs',
  uprobe: 'uprobes', 'uprobe-return': 'uprobes',
};

/**
 * The mechanism that runs plan in this kernel. connect: true when the hook
 * is a connect deny the cgroup programs can enforce (compiler/connect.ts);
 * a string when it is a connect deny they cannot, saying why.
 */
export function chooseMechanism(plan: HookPlan, kernel: KernelFacts, connect: boolean | string = false): MechanismChoice {
  const connectRules = connect === true;
  const connectUnfit = typeof connect === 'string' ? connect : undefined;
  const need = needOf(plan);
  const { features } = kernel;
  const actions = planActions(plan);
  const signals = actions.has('Sigkill') || actions.has('Signal');
  if (signals && !works(features, 'bpf_send_signal')) {
    throw new NotSupportedError('bpf_send_signal', `${hookName(plan)} has a Sigkill or Signal action; ${missing(features, 'bpf_send_signal')}`);
  }
  const sc = plan.kind === 'kprobe' && plan.syscall ? syscallName(plan.target.function, kernel.arch) : undefined;
  const fn = sc?.function ?? (plan.kind === 'kprobe' ? plan.target.function : plan.kind === 'lsm' ? plan.target.hook
    : plan.kind === 'uprobe' ? uprobeWhere(plan.target) : targetName(plan.target));
  const hook: Hook = { plan, kernel, syscall: sc?.name, fn, connectRules, connectUnfit };
  const rows = MECHANISMS.filter((r) => r.serves === need && (r.applies?.(hook) ?? true));
  const passed = new PassedOver();
  for (const row of rows) {
    const unfit = row.unfit?.(hook);
    if (unfit !== undefined) {
      if (!(need === 'call' && unfit === 'only for syscalls') && !(row.mechanism === 'cgroup_connect' && !connectRules && !connectUnfit)) passed.add(row.mechanism, unfit);
      continue;
    }
    if (!works(features, row.feature)) {
      passed.add(row.mechanism, missing(features, row.feature));
      continue;
    }
    if (signals && !row.enforcement.includes('signal')) {
      passed.add(row.mechanism, 'cannot send signals');
      continue;
    }
    const { target, entry, syscallNr } = row.target(hook);
    return {
      mechanism: row.mechanism, target, ...(entry ? { entry } : {}), ...(syscallNr !== undefined ? { syscallNr } : {}),
      reason: passed.size ? `${row.how(hook)} (passed over ${passed})` : row.how(hook),
      features: [row.feature, ...(signals ? ['bpf_send_signal'] : [])],
      syscall: plan.kind === 'kprobe' && plan.syscall && !row.execFile,
      ...(row.execFile ? { execFile: row.execFile } : {}),
      functionName: plan.kind === 'tracepoint' ? targetName(plan.target) : fn,
      object: row.object, program: row.program, ...(row.entryProgram ? { entryProgram: row.entryProgram } : {}),
      attach: row.attach, enforcement: row.enforcement,
    };
  }
  const first = rows.find((r) => r.mechanism !== 'cgroup_connect' && !r.applies) ?? rows[0];
  const what = need === 'call' && sc ? `${NEEDS_WORDS.call} or syscall tracepoints` : NEEDS_WORDS[need];
  const verb = need === 'call-override' || need === 'call-return-override' ? `has an Override action, which needs ${what} on ${fn}` : `needs ${what}`;
  throw new NotSupportedError(first.feature, `${hookName(plan)} ${verb}; ${passed}`);
}

/** The rows passed over and why; rows passed over for the same reason are named together. */
class PassedOver {
  private readonly why = new Map<string, Mechanism[]>();

  add(m: Mechanism, reason: string): void {
    const names = this.why.get(reason) ?? [];
    if (!names.includes(m)) names.push(m);
    this.why.set(reason, names);
  }

  get size(): number {
    return this.why.size;
  }

  toString(): string {
    return [...this.why].map(([reason, names]) => `${names.join(', ')}: ${reason}`).join('; ');
  }
}

/** A load the kernel refused for a reason the table knows: fmod_ret on a function it may not change. */
export function explainLoadFailure(choice: MechanismChoice, hook: string, err: unknown): unknown {
  const fmodRet = choice.mechanism === 'fmod_ret' || choice.entryProgram === 'vigil_generic_fexit_fmod_ret';
  if (fmodRet && err instanceof VigilError && /not modifiable|modify_return/i.test(err.log ?? '')) {
    return new NotSupportedError('fmod_ret', `${hook} has an Override action, and the kernel does not let fmod_ret change ${targetName(choice.target)}'s return value; ${LSM_INSTEAD}`);
  }
  return err;
}
