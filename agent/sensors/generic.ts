// One TracingPolicy hook, loaded: the mechanism chosen for this kernel
// (policies/compiler/mechanism.ts), one instance of that mechanism's
// generic program (kprobes/generic_*.bpf.c) with the hook's configuration
// in rodata and its filter values in maps, attached. The shared maps
// (ring buffer, counters, process and binaries maps) are the agent's, so
// records flow through its reader. close() detaches and frees the slot.
//
//   choose mechanism -> encode -> open, configure, load -> fill maps -> attach
//   (syscall_dispatch: routed by the sys_enter dispatcher instead of attached)
import { BpfObject } from '../loader/object.js';
import { BpfMap } from '../loader/map.js';
import { bpfObjectPath } from '../loader/paths.js';
import type { SharedMaps } from '../loader/shared-maps.js';
import { CounterSlots } from './counters.js';
import type { DispatchSlot, SyscallDispatch } from './syscall-dispatch.js';
import { tracepointDir, tracepointFields } from './tracepoint-format.js';
import { NotSupportedError, VigilError } from '../errors.js';
import type { FeatureResult } from '../probe/features.js';
import { chooseMechanism, type Mechanism, type MechanismChoice, type MechanismTarget } from '../../policies/compiler/mechanism.js';
import { encodeHook, type EncodedHook, type TracepointField } from '../../policies/compiler/encode.js';
import { followFilters, hookName, type HookPlan } from '../../policies/compiler/plan.js';
import type { FollowBits } from './follow.js';

/** The program of each mechanism; return probes have an entry program beside it. */
interface Programs { object: string; program: string; entry?: string }

const PROGRAMS: Record<Mechanism, Programs> = {
  syscall_dispatch: { object: 'generic_syscall', program: 'vigil_generic_syscall' },
  tracepoint: { object: 'generic_tracepoint', program: 'vigil_generic_tp' },
  kprobe: { object: 'generic_kprobe', program: 'vigil_generic_kprobe' },
  fentry: { object: 'generic_fentry', program: 'vigil_generic_fentry' },
  fmod_ret: { object: 'generic_fentry', program: 'vigil_generic_fmod_ret' },
  lsm: { object: 'generic_lsm', program: 'vigil_generic_lsm' },
  kretprobe: { object: 'generic_kretprobe', program: 'vigil_generic_kretprobe', entry: 'vigil_generic_kretprobe_entry' },
  fexit: { object: 'generic_fexit', program: 'vigil_generic_fexit', entry: 'vigil_generic_fexit_entry' },
};
/** A syscall return probe on tracepoints: sys_enter_<name> and sys_exit_<name>. */
const SYSCALL_RETURN: Programs = { object: 'generic_tracepoint_exit', program: 'vigil_generic_tp_sys_exit', entry: 'vigil_generic_tp_sys_enter' };

const programsOf = (choice: MechanismChoice): Programs =>
  choice.mechanism === 'tracepoint' && choice.entry ? SYSCALL_RETURN : PROGRAMS[choice.mechanism];

export interface GenericHookState {
  hookId: number;
  policyName: string;
  /** kprobe:fn, tracepoint:subsys/event, lsm:hook, as the policy wrote it. */
  hook: string;
  mechanism: Mechanism;
  target: MechanismTarget;
  reason: string;
  program: string;
  state: 'attached' | 'closed';
}

export interface GenericHookContext {
  hookId: number;
  shared: SharedMaps;
  slots: CounterSlots;
  features: Pick<FeatureResult, 'feature' | 'works' | 'reason'>[];
  /** Routes syscalls to syscall_dispatch hooks. */
  dispatch: SyscallDispatch;
  /** Gives matchBinaries followChildren filters their bits. */
  follow: FollowBits;
}

export const targetName = (t: MechanismTarget): string =>
  'function' in t ? t.function : 'hook' in t ? t.hook : `${t.subsystem}/${t.event}`;

export class GenericHook {
  private obj?: BpfObject;
  private slot?: number;
  private route?: DispatchSlot;
  private followBits: number[] = [];
  readonly state: GenericHookState;

  private constructor(readonly plan: HookPlan, readonly choice: MechanismChoice, private readonly ctx: GenericHookContext) {
    this.state = {
      hookId: ctx.hookId, policyName: plan.policyName, hook: hookName(plan), mechanism: choice.mechanism,
      target: choice.target, reason: choice.reason, program: programsOf(choice).program, state: 'closed',
    };
  }

  /** Chooses the mechanism, loads and attaches; throws (NotSupportedError among others) with nothing left behind. */
  static load(plan: HookPlan, ctx: GenericHookContext): GenericHook {
    const hook = new GenericHook(plan, chooseMechanism(plan, ctx.features), ctx);
    try {
      hook.attach();
    } catch (err) {
      hook.close();
      throw err;
    }
    return hook;
  }

  /** The function name events report. */
  get functionName(): string {
    return this.choice.functionName ?? targetName(this.choice.target);
  }

  private fields(): TracepointField[] | undefined {
    const t = this.choice.target;
    if (this.choice.mechanism !== 'tracepoint' || !('subsystem' in t)) return undefined;
    if (this.choice.syscall) {
      for (const tp of this.choice.entry && 'subsystem' in this.choice.entry ? [this.choice.entry, t] : [t]) {
        if (!tracepointDir(tp.subsystem, tp.event)) {
          throw new NotSupportedError('syscall tracepoints', `${this.state.hook} falls back to tracepoint ${tp.subsystem}/${tp.event}, which this kernel does not have`);
        }
      }
      return undefined;
    }
    return tracepointFields(t.subsystem, t.event);
  }

  private attach(): void {
    const { program, object, entry } = programsOf(this.choice);
    const fields = this.fields();
    this.slot = this.ctx.slots.register(`policy ${this.plan.policyName}`, [{ program, hook: `${this.state.hook} (${this.choice.mechanism} ${targetName(this.choice.target)})` }]);
    for (const f of followFilters(this.plan)) this.followBits.push(this.ctx.follow.acquire(f.values));
    const encoded = encodeHook(this.plan, { hookId: this.ctx.hookId, slot: this.slot, choice: this.choice, fields, followBits: this.followBits });
    const counters = this.ctx.shared.fd('vigil_counters');
    if (counters !== undefined) CounterSlots.reset(new BpfMap('vigil_counters', counters, 4, 16, true), this.slot);

    const obj = BpfObject.open(bpfObjectPath(object)).selectPrograms(entry ? [entry, program] : [program]);
    this.obj = obj;
    obj.setMaxEntries('vigil_int_eq', Math.max(1, encoded.intEq.length))
      .setMaxEntries('vigil_str_eq', Math.max(1, encoded.eq.length))
      .setMaxEntries('vigil_str_prefix', Math.max(1, encoded.prefix.length))
      .setMaxEntries('vigil_str_postfix', Math.max(1, encoded.postfix.length))
      .setMaxEntries('vigil_net_lpm', Math.max(1, encoded.net.length))
      .setRodata({ vigil_hook: encoded.config });
    const t = this.choice.target;
    const m = this.choice.mechanism;
    if (m === 'lsm' || m === 'fentry' || m === 'fmod_ret' || m === 'fexit') {
      for (const p of entry ? [entry, program] : [program]) obj.setAttachTarget(p, targetName(t));
    }
    this.ctx.shared.prepare(obj);
    this.loadObject(obj);
    fillMaps(obj, encoded);
    // A return probe's entry program first, so no return is seen without its entry.
    const e = this.choice.entry;
    if (entry && e && 'subsystem' in e) obj.attachTracepoint(entry, e.subsystem, e.event);
    else if (entry && m === 'kretprobe') obj.attachKprobe(entry, targetName(t));
    else if (entry) obj.attach([entry]);
    if (m === 'syscall_dispatch') this.route = this.ctx.dispatch.add(this.choice.syscallNr!, obj.programFd(program));
    else if ('subsystem' in t) obj.attachTracepoint(program, t.subsystem, t.event);
    else if (m === 'kprobe') obj.attachKprobe(program, targetName(t));
    else if (m === 'kretprobe') obj.attachKretprobe(program, targetName(t));
    else obj.attach([program]);
    this.state.state = 'attached';
  }

  private loadObject(obj: BpfObject): void {
    try {
      obj.load();
    } catch (err) {
      // fmod_ret only attaches to functions on the error-injection list and security_* hooks.
      if (this.choice.mechanism === 'fmod_ret' && err instanceof VigilError && /not modifiable|modify_return/i.test(err.log ?? '')) {
        throw new NotSupportedError('fmod_ret', `${this.state.hook} has an Override action, and the kernel does not let fmod_ret change ${targetName(this.choice.target)}'s return value`);
      }
      throw err;
    }
  }

  /** Records emitted and lost by this hook's program. */
  counters(): { emitted: number; lost: number } {
    const fd = this.ctx.shared.fd('vigil_counters');
    if (fd === undefined || this.slot === undefined) return { emitted: 0, lost: 0 };
    return CounterSlots.readSlot(new BpfMap('vigil_counters', fd, 4, 16, true), this.slot);
  }

  close(): void {
    this.route?.release();
    this.route = undefined;
    this.obj?.close();
    this.obj = undefined;
    for (const bit of this.followBits) this.ctx.follow.release(bit);
    this.followBits = [];
    if (this.slot !== undefined) this.ctx.slots.release(this.slot, 1);
    this.slot = undefined;
    this.state.state = 'closed';
  }
}

function fillMaps(obj: BpfObject, e: EncodedHook): void {
  const maps = [
    ['vigil_int_eq', e.intEq], ['vigil_str_eq', e.eq], ['vigil_str_prefix', e.prefix], ['vigil_str_postfix', e.postfix], ['vigil_net_lpm', e.net],
  ] as const;
  for (const [name, entries] of maps) {
    if (!entries.length) continue;
    const map = obj.map(name);
    for (const { key, value } of entries) map.update(key, value);
  }
}
