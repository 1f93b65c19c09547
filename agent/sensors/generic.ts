// One TracingPolicy hook, loaded: the mechanism chosen for this kernel
// (policies/compiler/mechanism.ts), one instance of that mechanism's
// generic program (kprobes/generic_*.bpf.c) with the hook's configuration
// in rodata and its filter values in maps, attached. The shared maps
// (ring buffer, counters, process and binaries maps) are the agent's, so
// records flow through its reader. close() detaches and frees the slot.
//
//   choose mechanism -> encode -> open, configure, load -> fill maps -> attach
import { BpfObject } from '../loader/object.js';
import { BpfMap } from '../loader/map.js';
import { bpfObjectPath } from '../loader/paths.js';
import type { SharedMaps } from '../loader/shared-maps.js';
import { CounterSlots } from './counters.js';
import { tracepointDir, tracepointFields } from './tracepoint-format.js';
import { NotSupportedError, VigilError } from '../errors.js';
import type { FeatureResult } from '../probe/features.js';
import { chooseMechanism, type Mechanism, type MechanismChoice, type MechanismTarget } from '../../policies/compiler/mechanism.js';
import { encodeHook, type EncodedHook, type TracepointField } from '../../policies/compiler/encode.js';
import { hookName, type HookPlan } from '../../policies/compiler/plan.js';

const PROGRAMS: Record<Mechanism, { object: string; program: string }> = {
  tracepoint: { object: 'generic_tracepoint', program: 'vigil_generic_tp' },
  kprobe: { object: 'generic_kprobe', program: 'vigil_generic_kprobe' },
  fentry: { object: 'generic_fentry', program: 'vigil_generic_fentry' },
  fmod_ret: { object: 'generic_fentry', program: 'vigil_generic_fmod_ret' },
  lsm: { object: 'generic_lsm', program: 'vigil_generic_lsm' },
};

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
}

export const targetName = (t: MechanismTarget): string =>
  'function' in t ? t.function : 'hook' in t ? t.hook : `${t.subsystem}/${t.event}`;

export class GenericHook {
  private obj?: BpfObject;
  private slot?: number;
  readonly state: GenericHookState;

  private constructor(readonly plan: HookPlan, readonly choice: MechanismChoice, private readonly ctx: GenericHookContext) {
    this.state = {
      hookId: ctx.hookId, policyName: plan.policyName, hook: hookName(plan), mechanism: choice.mechanism,
      target: choice.target, reason: choice.reason, program: PROGRAMS[choice.mechanism].program, state: 'closed',
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
      if (!tracepointDir(t.subsystem, t.event)) {
        throw new NotSupportedError('syscall tracepoints', `${this.state.hook} falls back to tracepoint ${t.subsystem}/${t.event}, which this kernel does not have`);
      }
      return undefined;
    }
    return tracepointFields(t.subsystem, t.event);
  }

  private attach(): void {
    const { program, object } = PROGRAMS[this.choice.mechanism];
    const fields = this.fields();
    this.slot = this.ctx.slots.register(`policy ${this.plan.policyName}`, [{ program, hook: `${this.state.hook} (${this.choice.mechanism} ${targetName(this.choice.target)})` }]);
    const encoded = encodeHook(this.plan, { hookId: this.ctx.hookId, slot: this.slot, choice: this.choice, fields });
    const counters = this.ctx.shared.fd('vigil_counters');
    if (counters !== undefined) CounterSlots.reset(new BpfMap('vigil_counters', counters, 4, 16, true), this.slot);

    const obj = BpfObject.open(bpfObjectPath(object)).selectPrograms([program]);
    this.obj = obj;
    obj.setMaxEntries('vigil_int_eq', Math.max(1, encoded.intEq.length))
      .setMaxEntries('vigil_str_eq', Math.max(1, encoded.eq.length))
      .setMaxEntries('vigil_str_prefix', Math.max(1, encoded.prefix.length))
      .setMaxEntries('vigil_str_postfix', Math.max(1, encoded.postfix.length))
      .setMaxEntries('vigil_net_lpm', Math.max(1, encoded.net.length))
      .setRodata({ vigil_hook: encoded.config });
    const t = this.choice.target;
    if (this.choice.mechanism === 'lsm' || this.choice.mechanism === 'fentry' || this.choice.mechanism === 'fmod_ret') {
      obj.setAttachTarget(program, targetName(t));
    }
    this.ctx.shared.prepare(obj);
    this.loadObject(obj);
    fillMaps(obj, encoded);
    if ('subsystem' in t) obj.attachTracepoint(program, t.subsystem, t.event);
    else if (this.choice.mechanism === 'kprobe') obj.attachKprobe(program, targetName(t));
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
    this.obj?.close();
    this.obj = undefined;
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
