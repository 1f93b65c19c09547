// Chooses how a hook runs in this kernel, from the probed features
// (agent/probe/features.ts), and says why, as data:
//
//   kprobe hook      kprobe; else fentry; with `syscall: true`, else the
//                    syscalls/sys_enter_<name> tracepoint, else
//                    raw_syscalls/sys_enter through Vigil's dispatcher
//                    (x86-64, tp_btf). The tracepoint comes first: measured
//                    side by side (docs/benchmarks.md), it costs the same
//                    per hooked call and less for every other syscall.
//   kprobe+Override  fmod_ret, or refused (bpf_override_return is not used)
//   return probe     kretprobe (with a kprobe at entry); else fexit (with
//                    fentry); with `syscall: true`, else the
//                    syscalls/sys_exit_<name> tracepoint (with sys_enter_<name>).
//                    Override is refused: by return the function has run.
//   tracepoint hook  tracepoint (Override refused)
//   lsm hook         BPF LSM, or refused
//   Sigkill/Signal   need bpf_send_signal
//
// Enforcement is never weakened silently: what cannot be done as written
// is a NotSupportedError naming the missing feature.
import type { FeatureResult } from '../../agent/probe/features.js';
import { NotSupportedError } from '../../agent/errors.js';
import { hookName, planActions, type HookPlan } from './plan.js';
import { syscallName } from './syscall-names.js';
import { X64_SYSCALL_NUMBERS } from './syscall-numbers.generated.js';

export type Mechanism = 'kprobe' | 'fentry' | 'fmod_ret' | 'syscall_dispatch' | 'tracepoint' | 'lsm' | 'kretprobe' | 'fexit';

export type MechanismTarget =
  | { function: string }
  | { subsystem: string; event: string }
  | { hook: string };

export interface MechanismChoice {
  mechanism: Mechanism;
  /** What the program attaches to: a kernel function, a tracepoint or an LSM hook. */
  target: MechanismTarget;
  /** Why this mechanism, including why better ones were passed over. */
  reason: string;
  /** The probed features it relies on. */
  features: string[];
  /** Syscall hooks: the syscall's arguments sit behind the wrapper's pt_regs (kprobe, fentry) or in the tracepoint's args[]. */
  syscall: boolean;
  /** The function name events report (Tetragon's function_name): __x64_sys_openat for syscalls. */
  functionName?: string;
  /** syscall_dispatch: the syscall's number. */
  syscallNr?: number;
  /** Return probes: where the entry program attaches (target is the return's). */
  entry?: MechanismTarget;
}

type Features = Pick<FeatureResult, 'feature' | 'works' | 'reason'>[];

function has(features: Features, id: string): boolean {
  return features.find((f) => f.feature === id)?.works === true;
}

function why(features: Features, id: string): string {
  const f = features.find((x) => x.feature === id);
  return !f ? `${id} was not probed` : `${id}: ${f.reason ?? 'does not work'}`;
}

export function chooseMechanism(plan: HookPlan, features: Features, arch: string = process.arch): MechanismChoice {
  const actions = planActions(plan);
  const needs: string[] = [];
  if (actions.has('Sigkill') || actions.has('Signal')) {
    if (!has(features, 'bpf_send_signal')) {
      throw new NotSupportedError('bpf_send_signal', `${hookName(plan)} has a Sigkill or Signal action; ${why(features, 'bpf_send_signal')}`);
    }
    needs.push('bpf_send_signal');
  }
  const override = actions.has('Override');
  const choice = (mechanism: Mechanism, target: MechanismTarget, reason: string, feature: string, extra: Partial<MechanismChoice> = {}): MechanismChoice => ({
    mechanism, target, reason, features: [feature, ...needs], syscall: false, ...extra,
  });

  switch (plan.kind) {
    case 'lsm': {
      if (!has(features, 'bpf_lsm')) throw new NotSupportedError('bpf_lsm', `${hookName(plan)} needs BPF LSM programs; ${why(features, 'bpf_lsm')}`);
      const reason = override ? 'LSM hook; Override returns argError from the BPF LSM program' : 'LSM hook';
      return choice('lsm', { hook: plan.target.hook }, reason, 'bpf_lsm', { functionName: plan.target.hook });
    }
    case 'tracepoint': {
      if (override) {
        throw new NotSupportedError('override', `${hookName(plan)} has an Override action, and a tracepoint cannot change what the kernel does`);
      }
      if (!has(features, 'tracepoints')) throw new NotSupportedError('tracepoints', why(features, 'tracepoints'));
      return choice('tracepoint', { ...plan.target }, 'tracepoint hook', 'tracepoints');
    }
    case 'kprobe': {
      const sc = plan.syscall ? syscallName(plan.target.function, arch) : undefined;
      const fn = sc?.function ?? plan.target.function;
      const extra = { syscall: plan.syscall, functionName: fn };
      if (plan.returnArg) return chooseReturn(plan, features, fn, sc?.name, override, choice, extra);
      if (override) {
        if (has(features, 'fmod_ret')) {
          return choice('fmod_ret', { function: fn }, `Override on ${fn}: an fmod_ret program returns argError (bpf_override_return is not used)`, 'fmod_ret', extra);
        }
        throw new NotSupportedError('fmod_ret', `${hookName(plan)} has an Override action, which needs fmod_ret on ${fn}; ${why(features, 'fmod_ret')}`);
      }
      if (has(features, 'kprobes')) return choice('kprobe', { function: fn }, `kprobe on ${fn}`, 'kprobes', extra);
      const passed = `${why(features, 'kprobes')}; ${why(features, 'fentry')}`;
      if (has(features, 'fentry')) return choice('fentry', { function: fn }, `fentry on ${fn} (${why(features, 'kprobes')})`, 'fentry', extra);
      if (sc && has(features, 'tracepoints')) {
        const event = `sys_enter_${sc.name}`;
        return choice('tracepoint', { subsystem: 'syscalls', event }, `syscall hook on tracepoint syscalls/${event} (${passed})`, 'tracepoints', extra);
      }
      const nr = sc && arch === 'x64' ? X64_SYSCALL_NUMBERS[sc.name] : undefined;
      if (nr !== undefined && has(features, 'tp_btf')) {
        return choice('syscall_dispatch', { subsystem: 'raw_syscalls', event: 'sys_enter' },
          `syscall hook on raw_syscalls/sys_enter, dispatched by syscall number ${nr} (${passed}; ${why(features, 'tracepoints')})`, 'tp_btf', { ...extra, syscallNr: nr });
      }
      throw new NotSupportedError('kprobes', `${hookName(plan)} needs kprobes or fentry${plan.syscall ? ' or syscall tracepoints' : ''}; ${passed}`);
    }
  }
}

type Choose = (mechanism: Mechanism, target: MechanismTarget, reason: string, feature: string, extra?: Partial<MechanismChoice>) => MechanismChoice;

/** A kprobe with `return: true`: an entry program and a return program on the same mechanism. */
function chooseReturn(plan: HookPlan, features: Features, fn: string, syscall: string | undefined, override: boolean,
  choice: Choose, extra: Partial<MechanismChoice>): MechanismChoice {
  if (override) {
    throw new NotSupportedError('override', `${hookName(plan)} is a return probe with an Override action; by return ${fn} has run, so nothing can be overridden`);
  }
  const target = { function: fn };
  if (has(features, 'kretprobes')) return choice('kretprobe', target, `kretprobe on ${fn}, with a kprobe at entry`, 'kretprobes', { ...extra, entry: target });
  const passed = `${why(features, 'kretprobes')}; ${why(features, 'fexit')}`;
  if (has(features, 'fexit')) return choice('fexit', target, `fexit on ${fn}, with fentry at entry (${why(features, 'kretprobes')})`, 'fexit', { ...extra, entry: target });
  if (syscall && has(features, 'tracepoints')) {
    const event = `sys_exit_${syscall}`;
    return choice('tracepoint', { subsystem: 'syscalls', event }, `syscall return probe on tracepoint syscalls/${event}, with sys_enter_${syscall} at entry (${passed})`,
      'tracepoints', { ...extra, entry: { subsystem: 'syscalls', event: `sys_enter_${syscall}` } });
  }
  throw new NotSupportedError('kretprobes', `${hookName(plan)} is a return probe and needs kretprobes or fexit${plan.syscall ? ' or syscall tracepoints' : ''}; ${passed}`);
}
