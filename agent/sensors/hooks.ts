// The loaded policy hooks of an agent: agent-assigned ids (the `hook_id`
// of every record), their GenericHook, and what their records need to
// become events. Ids are never reused; a hook's plan outlives its unload
// briefly, for the records still in the ring buffer.
import { FollowBits } from './follow.js';
import type { Logger } from '../log.js';
import type { SharedMaps } from '../loader/shared-maps.js';
import { CounterSlots } from './counters.js';
import { ConnectDenySensor } from './connect-deny.js';
import { BpfMap } from '../loader/map.js';
import { syscallName } from '../../policies/compiler/syscall-names.js';
import type { ConnectHook } from '../../policies/compiler/compile.js';
import { GenericHook, targetName, type GenericHookState } from './generic.js';
import { SyscallDispatch } from './syscall-dispatch.js';
import { disableFeatures, probeFeatures, type FeatureResult } from '../probe/features.js';
import { planActions, type HookPlan } from '../../policies/compiler/plan.js';
import type { PolicyHook } from '../enrich/policy-events.js';
import type { HookHandle } from '../policy/manager.js';

const RETIRED_MS = 10_000;

export class HookRegistry {
  private readonly hooks = new Map<number, GenericHook>();
  private readonly plans = new Map<number, PolicyHook>();
  private nextId = 1;
  private features?: FeatureResult[];
  private readonly dispatch = new SyscallDispatch();
  private readonly follow: FollowBits;

  constructor(
    private readonly shared: SharedMaps,
    private readonly slots: CounterSlots,
    private readonly log: Logger,
    features?: FeatureResult[],
    /** Features to treat as missing, whatever the probe finds. */
    private readonly disabled: readonly string[] = [],
  ) {
    this.features = features;
    this.follow = new FollowBits(shared);
  }

  load(plan: HookPlan): GenericHookState {
    this.features ??= disableFeatures(probeFeatures(), this.disabled);
    const hookId = this.nextId++;
    const hook = GenericHook.load(plan, { hookId, shared: this.shared, slots: this.slots, features: this.features, dispatch: this.dispatch, follow: this.follow });
    this.hooks.set(hookId, hook);
    this.plans.set(hookId, { plan, functionName: hook.functionName });
    this.log.info({ hook: hook.state }, 'hook attached');
    return hook.state;
  }

  unload(hookId: number): boolean {
    const hook = this.hooks.get(hookId);
    if (!hook) return false;
    hook.close();
    this.hooks.delete(hookId);
    setTimeout(() => this.plans.delete(hookId), RETIRED_MS).unref();
    this.log.info({ hook: hook.state }, 'hook detached');
    return true;
  }

  /** The loaded hook as the policy manager handles it. */
  handle(plan: HookPlan): HookHandle {
    const state = this.load(plan);
    const hook = this.hooks.get(state.hookId)!;
    const actions = planActions(plan);
    return {
      mechanism: state.mechanism,
      target: targetName(state.target),
      reason: state.reason,
      enforcement: actions.has('Override') ? 'override' : actions.has('Sigkill') ? 'sigkill' : actions.has('Signal') ? 'signal' : 'none',
      counters: () => {
        const c = hook.counters();
        return { matches: c.emitted, lost: c.lost };
      },
      close: () => this.unload(state.hookId),
    };
  }

  /** A connect deny on cgroup programs; its denials become events of its report plan. */
  connect(c: ConnectHook): HookHandle {
    const hookId = this.nextId++;
    const { report } = c;
    const functionName = report.kind === 'kprobe' && report.syscall ? syscallName(report.target.function).function : targetName(report.target);
    const slot = this.slots.register(`policy ${report.policyName}`, [{ program: 'vigil_connect4', hook: `${c.path} (cgroup_connect)` }]);
    const sensor = new ConnectDenySensor();
    try {
      sensor.load(c.rules, undefined, { shared: this.shared, hookId, slot, sock: report.args[0]?.type === 'sock' });
    } catch (err) {
      sensor.close();
      this.slots.release(slot, 1);
      throw err;
    }
    this.plans.set(hookId, { plan: report, functionName });
    const m = sensor.mechanism();
    const counters = this.shared.fd('vigil_counters');
    this.log.info({ hook: { hookId, policyName: report.policyName, path: c.path, mechanism: m.type, target: m.cgroup } }, 'hook attached');
    return {
      mechanism: m.type, target: m.cgroup, reason: m.reason, enforcement: 'override',
      counters: () => ({
        matches: [...sensor.counts().values()].reduce((a, b) => a + b, 0),
        lost: counters === undefined ? 0 : CounterSlots.readSlot(new BpfMap('vigil_counters', counters, 4, 16, true), slot).lost,
      }),
      close: () => {
        sensor.close();
        this.slots.release(slot, 1);
        setTimeout(() => this.plans.delete(hookId), RETIRED_MS).unref();
      },
    };
  }

  policyHook(hookId: number): PolicyHook | undefined {
    return this.plans.get(hookId);
  }

  states(): GenericHookState[] {
    return [...this.hooks.values()].map((h) => h.state);
  }

  close(): void {
    for (const id of [...this.hooks.keys()]) this.unload(id);
    this.dispatch.close();
  }
}
