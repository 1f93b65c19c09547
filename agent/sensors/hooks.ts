// The loaded policy hooks of an agent: agent-assigned ids (the `hook_id`
// of every record), the sensor running each compiled hook (a generic
// program, or cgroup connect programs), and the compiled hook its records
// need to become events. Ids are never reused; a hook's compiled form
// outlives its unload briefly, for the records still in the ring buffer.
import { FollowBits } from './follow.js';
import type { Logger } from '../log.js';
import type { SharedMaps } from './shared-maps.js';
import { CounterSlots } from './counters.js';
import { ConnectDenySensor } from './connect-deny.js';
import { GenericHook, type GenericHookState } from './generic.js';
import { SyscallDispatch } from './syscall-dispatch.js';
import { targetName, type Enforcement } from '../../policies/compiler/mechanism.js';
import { planActions } from '../../policies/compiler/plan.js';
import type { CompiledConnectHook, CompiledGenericHook, CompiledHook } from '../../policies/compiler/compile.js';

const RETIRED_MS = 10_000;

/** A loaded hook, whatever program runs it. */
export interface HookHandle {
  hookId: number;
  mechanism: string;
  target: string;
  reason: string;
  /** What the kernel guarantees: 'none' (observe), 'sigkill', 'signal', 'override'. */
  enforcement: string;
  /** undecided: calls with an arg that could not be read, on which no filter could decide. */
  counters(): { matches: number; lost: number; undecided: number };
  close(): void;
}

/** The strongest enforcement a hook's actions ask of its mechanism. */
function enforcementOf(hook: CompiledHook): string {
  const actions = planActions(hook.plan);
  const can = (e: Enforcement): boolean => hook.choice.enforcement.includes(e);
  if (hook.kind === 'connect' || (actions.has('Override') && can('override'))) return 'override';
  return actions.has('Sigkill') ? 'sigkill' : actions.has('Signal') ? 'signal' : 'none';
}

export class HookRegistry {
  private readonly hooks = new Map<number, GenericHook>();
  private readonly compiled = new Map<number, CompiledHook>();
  private nextId = 1;
  private readonly dispatch = new SyscallDispatch();
  private readonly follow: FollowBits;

  constructor(private readonly shared: SharedMaps, private readonly slots: CounterSlots, private readonly log: Logger) {
    this.follow = new FollowBits(shared);
  }

  /** Loads and attaches a compiled hook; throws with nothing left behind. */
  load(hook: CompiledHook): HookHandle {
    return hook.kind === 'connect' ? this.connect(hook) : this.generic(hook);
  }

  private generic(compiled: CompiledGenericHook): HookHandle {
    const hookId = this.nextId++;
    const hook = GenericHook.load(compiled, { hookId, shared: this.shared, slots: this.slots, dispatch: this.dispatch, follow: this.follow });
    this.hooks.set(hookId, hook);
    this.compiled.set(hookId, compiled);
    this.log.info({ hook: hook.state }, 'hook attached');
    const { state } = hook;
    return {
      hookId, mechanism: state.mechanism, target: targetName(state.target), reason: state.reason, enforcement: enforcementOf(compiled),
      counters: () => {
        const c = hook.counters();
        return { matches: c.emitted, lost: c.lost, undecided: c.undecided };
      },
      close: () => this.unload(hookId),
    };
  }

  /** A connect deny on cgroup programs; its denials become events of its report plan. */
  private connect(c: CompiledConnectHook): HookHandle {
    const hookId = this.nextId++;
    const { plan, choice } = c;
    const cgroup = targetName(choice.target);
    const slot = this.slots.register(`policy ${plan.policyName}`, [{ program: choice.program, hook: `${c.path} (cgroup_connect)` }]);
    const sensor = new ConnectDenySensor();
    try {
      sensor.load(c.connect, cgroup, { shared: this.shared, hookId, slot, sock: plan.args[0]?.type === 'sock' });
    } catch (err) {
      sensor.close();
      this.slots.release(slot, 1);
      throw err;
    }
    this.compiled.set(hookId, c);
    const counters = this.shared.fd('vigil_counters');
    this.log.info({ hook: { hookId, policyName: plan.policyName, path: c.path, mechanism: choice.mechanism, target: cgroup } }, 'hook attached');
    return {
      hookId, mechanism: choice.mechanism, target: cgroup, reason: choice.reason, enforcement: enforcementOf(c),
      counters: () => ({
        matches: [...sensor.counts().values()].reduce((a, b) => a + b, 0),
        lost: counters === undefined ? 0 : CounterSlots.readSlot(CounterSlots.map(counters), slot).lost,
        undecided: 0,
      }),
      close: () => {
        sensor.close();
        this.slots.release(slot, 1);
        this.retire(hookId);
      },
    };
  }

  unload(hookId: number): boolean {
    const hook = this.hooks.get(hookId);
    if (!hook) return false;
    hook.close();
    this.hooks.delete(hookId);
    this.retire(hookId);
    this.log.info({ hook: hook.state }, 'hook detached');
    return true;
  }

  /** Keeps the compiled hook a while, for records still in the ring buffer. */
  private retire(hookId: number): void {
    setTimeout(() => this.compiled.delete(hookId), RETIRED_MS).unref();
  }

  /** The compiled hook behind a record's hook id. */
  hook(hookId: number): CompiledHook | undefined {
    return this.compiled.get(hookId);
  }

  states(): GenericHookState[] {
    return [...this.hooks.values()].map((h) => h.state);
  }

  close(): void {
    for (const id of [...this.hooks.keys()]) this.unload(id);
    this.dispatch.close();
  }
}
