// One compiled TracingPolicy hook, loaded: its program (kprobes/
// generic_*.bpf.c, as the compiled hook's mechanism names it) with the
// hook's bytes in rodata and its filter values in maps, attached as the
// mechanism says. The shared maps (ring buffer, counters, process and
// binaries maps) are the agent's, so records flow through its reader; a
// scoped hook's vigil_scope is its policy's (agent/scope/). close()
// detaches and frees the slot.
//
//   ids (hook id, counter slot, followChildren bits) -> open, configure,
//   load -> fill maps -> attach (the entry program first)
import { BpfObject } from '../../kernel/bpf/object.js';
import { bpfObjectPath } from '../../kernel/bpf/paths.js';
import type { SharedMaps } from './shared-maps.js';
import { CounterSlots, type SlotCounts } from './counters.js';
import type { DispatchSlot, SyscallDispatch } from './syscall-dispatch.js';
import { bindHook, type EncodedHook } from '../../policies/compiler/encode.js';
import { explainLoadFailure, targetName, type Mechanism, type MechanismTarget } from '../../policies/compiler/mechanism.js';
import { followFilters, hookName } from '../../policies/compiler/plan.js';
import type { CompiledGenericHook } from '../../policies/compiler/compile.js';
import type { FollowBits } from './follow.js';
import { VigilError } from '../../kernel/errors.js';

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
  /** Routes syscalls to syscall_dispatch hooks. */
  dispatch: SyscallDispatch;
  /** Gives matchBinaries followChildren filters their bits. */
  follow: FollowBits;
  /** A scoped hook's policy scope: the map of cgroup ids it checks (kprobes/include/scope.h). */
  scope?: { fd: number };
}

/** The maps of selector values (kprobes/include/generic_values.h), by their entries in an encoded hook. */
export const VALUE_MAPS = ['vigil_int_eq', 'vigil_str_eq', 'vigil_str_prefix', 'vigil_str_postfix', 'vigil_str_sub', 'vigil_net_lpm'] as const;
export const valuesOf = (e: EncodedHook): Record<(typeof VALUE_MAPS)[number], EncodedHook['eq']> => ({
  vigil_int_eq: e.intEq, vigil_str_eq: e.eq, vigil_str_prefix: e.prefix, vigil_str_postfix: e.postfix, vigil_str_sub: e.sub, vigil_net_lpm: e.net,
});

export class GenericHook {
  private obj?: BpfObject;
  private counterSlot?: number;
  private route?: DispatchSlot;
  private followBits: number[] = [];
  readonly state: GenericHookState;

  private constructor(readonly hook: CompiledGenericHook, private readonly ctx: GenericHookContext) {
    const { plan, choice } = hook;
    this.state = {
      hookId: ctx.hookId, policyName: plan.policyName, hook: hookName(plan), mechanism: choice.mechanism,
      target: choice.target, reason: choice.reason, program: choice.program, state: 'closed',
    };
  }

  /** Loads and attaches; throws with nothing left behind. */
  static load(hook: CompiledGenericHook, ctx: GenericHookContext): GenericHook {
    const h = new GenericHook(hook, ctx);
    try {
      h.attach();
    } catch (err) {
      h.close();
      throw err;
    }
    return h;
  }

  private attach(): void {
    const { plan, choice, encoded } = this.hook;
    const { program, entryProgram: entry } = choice;
    const programs = entry ? [entry, program] : [program];
    this.counterSlot = this.ctx.slots.register(`policy ${plan.policyName}`, [{ program, hook: `${this.state.hook} (${choice.mechanism} ${targetName(choice.target)})` }]);
    for (const f of followFilters(plan)) this.followBits.push(this.ctx.follow.acquire(f.values));
    const config = bindHook(encoded, { hookId: this.ctx.hookId, slot: this.counterSlot, followBits: this.followBits });
    const counters = this.ctx.shared.fd('vigil_counters');
    if (counters !== undefined) CounterSlots.reset(CounterSlots.map(counters), this.counterSlot);

    const obj = BpfObject.open(bpfObjectPath(choice.object)).selectPrograms(programs);
    this.obj = obj;
    const values = valuesOf(encoded);
    for (const name of VALUE_MAPS) obj.setMaxEntries(name, Math.max(1, values[name].length));
    // A hook alone has no group: no gate, no generations.
    obj.setMaxEntries('vigil_gate', 1).setMaxEntries('vigil_group_gen', 1);
    // A scoped hook checks its policy's scope map; a host-wide one never reads its own.
    if (plan.scope) {
      if (!this.ctx.scope) throw new VigilError('VIGIL_INTERNAL', `${this.state.hook} of policy ${plan.policyName} is scoped, and was given no scope map`);
      obj.reuseMap('vigil_scope', this.ctx.scope.fd);
    } else {
      obj.setMaxEntries('vigil_scope', 1);
    }
    obj.setRodata({ vigil_hook: config });
    if (choice.attach === 'trampoline') for (const p of programs) obj.setAttachTarget(p, targetName(choice.target));
    this.ctx.shared.prepare(obj);
    try {
      obj.load();
    } catch (err) {
      throw explainLoadFailure(choice, this.state.hook, err);
    }
    for (const name of VALUE_MAPS) {
      const map = values[name].length ? obj.map(name) : undefined;
      for (const { key, value } of values[name]) map!.update(key, value);
    }
    // A return probe's entry program first, so no return is seen without its entry.
    const entryAttach = choice.attach === 'kretprobe' ? 'kprobe' : choice.attach === 'uretprobe' ? 'uprobe' : choice.attach;
    if (entry) this.attachProgram(entry, choice.entry ?? choice.target, entryAttach);
    this.attachProgram(program, choice.target, choice.attach);
    this.state.state = 'attached';
  }

  private attachProgram(name: string, target: MechanismTarget, how: CompiledGenericHook['choice']['attach']): void {
    const obj = this.obj!;
    if (how === 'dispatch') this.route = this.ctx.dispatch.add(this.hook.choice.syscallNr!, obj.programFd(name));
    else if (how === 'tracepoint' && 'subsystem' in target) obj.attachTracepoint(name, target.subsystem, target.event);
    else if (how === 'kprobe') obj.attachKprobe(name, targetName(target));
    else if (how === 'kretprobe') obj.attachKretprobe(name, targetName(target));
    else if ((how === 'uprobe' || how === 'uretprobe') && 'binary' in target) {
      obj.attachUprobe(name, target.binary, { offset: target.offset, symbol: target.symbol, refCtrOffset: target.refCtrOffset, retprobe: how === 'uretprobe' });
    }
    else obj.attach([name]);
  }

  /** Its counter slot, while loaded. */
  get slot(): number | undefined {
    return this.counterSlot;
  }

  /** The followChildren bits it was given, in followFilters(plan) order. */
  get follow(): number[] {
    return [...this.followBits];
  }

  /** Pins its links under dir: the hook stays attached after the agent is gone. */
  pin(dir: string): void {
    this.obj?.pin(dir);
  }

  /** Records emitted and lost by this hook's program, and its calls with an unreadable arg. */
  counters(): SlotCounts {
    const fd = this.ctx.shared.fd('vigil_counters');
    if (fd === undefined || this.counterSlot === undefined) return { emitted: 0, lost: 0, undecided: 0 };
    return CounterSlots.readSlot(CounterSlots.map(fd), this.counterSlot);
  }

  close(): void {
    this.route?.release();
    this.route = undefined;
    this.obj?.close();
    this.obj = undefined;
    for (const bit of this.followBits) this.ctx.follow.release(bit);
    this.followBits = [];
    if (this.counterSlot !== undefined) this.ctx.slots.release(this.counterSlot, 1);
    this.counterSlot = undefined;
    this.state.state = 'closed';
  }
}
