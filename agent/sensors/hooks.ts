// The loaded policy hooks of an agent: agent-assigned ids (the `hook_id`
// of every record), the sensor running each compiled hook (a generic
// program, or cgroup connect programs), and the compiled hook its records
// need to become events. Ids are never reused; a hook's compiled form
// outlives its unload briefly, for the records still in the ring buffer.
// Enforcing hooks are pinned (pins.ts), so they keep enforcing while the
// agent is down; one that an earlier agent pinned, with the same
// fingerprint, is adopted rather than attached twice. The hooks of a policy
// limited to pods share its scope (agent/scope/), taken at each hook's load
// and given back at its unload; a pinned one pins the scope map too.
import { join } from 'node:path';
import { FollowBits } from './follow.js';
import type { Logger } from '../log.js';
import type { SharedMaps } from './shared-maps.js';
import { CounterSlots } from './counters.js';
import { ConnectDenySensor } from './connect-deny.js';
import { GenericHook, type GenericHookState } from './generic.js';
import { HookGroups, type GroupFailure, type GroupMember } from './group.js';
import { SyscallDispatch } from './syscall-dispatch.js';
import { targetName, type Enforcement } from '../../policies/compiler/mechanism.js';
import { followFilters, hookName, planActions } from '../../policies/compiler/plan.js';
import { bindHook } from '../../policies/compiler/encode.js';
import type { CompiledConnectHook, CompiledGenericHook, CompiledHook } from '../../policies/compiler/compile.js';
import { unpin } from '../../kernel/bpf/pins.js';
import type { PinnedHook, PinStore } from './pins.js';
import { PolicyScope, type PolicyScopes } from '../scope/scopes.js';
import type { BpfMap } from '../../kernel/bpf/map.js';

const RETIRED_MS = 10_000;
/** A scoped hook's scope map, pinned beside its links: a restarted agent adopts the hook with what its scope held. */
const SCOPE_PIN = 'map-vigil_scope';

/** A loaded hook, whatever program runs it. */
export interface HookHandle {
  hookId: number;
  /** Its counter slot (output.h). */
  slot: number;
  mechanism: string;
  target: string;
  reason: string;
  /** What the kernel guarantees: 'none' (observe), 'sigkill', 'signal', 'override'. */
  enforcement: string;
  /** undecided: calls with an arg that could not be read, on which no filter could decide. */
  counters(): { matches: number; lost: number; undecided: number };
  /** A policy limited to pods: its scope, which the hook checks in the kernel. */
  scope?: PolicyScope;
  close(): void;
}

/** Pinning: where pins go, the process sensor they sit on, and what an earlier agent pinned. */
export interface HookPins {
  store: PinStore;
  processFingerprint: string;
  /** Pinned by an earlier agent, not adopted yet. */
  found: PinnedHook[];
}

/** Hooks that enforce are pinned; those that only report go with the agent. */
const enforcing = (hook: CompiledHook): boolean =>
  hook.kind === 'connect' || ['Sigkill', 'Signal', 'Override'].some((a) => planActions(hook.plan).has(a as never));

/** The strongest enforcement a hook's actions ask of its mechanism. */
function enforcementOf(hook: CompiledHook): string {
  const actions = planActions(hook.plan);
  const can = (e: Enforcement): boolean => hook.choice.enforcement.includes(e);
  if (hook.kind === 'connect' || (actions.has('Override') && can('override'))) return 'override';
  return actions.has('Sigkill') ? 'sigkill' : actions.has('Signal') ? 'signal' : 'none';
}

export class HookRegistry {
  private readonly hooks = new Map<number, GenericHook>();
  /** Hooks run in a hook group, with what they hold. */
  private readonly grouped = new Map<number, { member: GroupMember; state: GenericHookState }>();
  private readonly groups: HookGroups;
  private readonly compiled = new Map<number, CompiledHook>();
  /** What runs each loaded hook, to pin it. */
  private readonly sensors = new Map<number, { pin(dir: string): void }>();
  private readonly followBits = new Map<number, number[]>();
  private nextId = 1;
  private readonly dispatch = new SyscallDispatch();
  private readonly follow: FollowBits;
  /** The pinned hooks of this agent, by hook id, as the state file records them. */
  private readonly pinned = new Map<number, PinnedHook>();
  /** The scope each loaded hook of a policy limited to pods holds. */
  private readonly scopeOf = new Map<number, PolicyScope>();

  constructor(private readonly shared: SharedMaps, private readonly slots: CounterSlots, private readonly log: Logger,
    private readonly scopes: PolicyScopes, private readonly pins?: HookPins) {
    this.follow = new FollowBits(shared);
    this.groups = new HookGroups(shared);
    // What an earlier agent's pinned programs hold in their rodata stays theirs until they are adopted or removed:
    // hook ids, counter slots, followChildren bits.
    for (const p of pins?.found ?? []) {
      this.nextId = Math.max(this.nextId, p.hookId + 1);
      this.slots.registerAt(p.slot, `policy ${p.compiled.plan.policyName}`, { program: p.compiled.choice.program, hook: `${p.compiled.path} (pinned)` });
      for (const f of p.follow) this.follow.adopt(f.bit, f.values);
    }
  }

  /** Loads and attaches a compiled hook (or adopts the same one pinned earlier); throws with nothing left behind. */
  load(hook: CompiledHook): HookHandle {
    const pins = this.pins && enforcing(hook) && hook.choice.mechanism !== 'syscall_dispatch' ? this.pins : undefined;
    if (!pins) return hook.kind === 'connect' ? this.connect(hook) : this.generic(hook);
    const fingerprint = pins.store.hookFingerprint(hook, pins.processFingerprint);
    const found = pins.found.findIndex((p) => p.fingerprint === fingerprint);
    // A pinned hook whose scope map is not the one its policy's other hooks use is replaced, not adopted.
    const earlier = found >= 0 ? pins.found.splice(found, 1)[0] : undefined;
    const adopted = earlier && this.adopt(earlier, hook);
    if (adopted) return adopted;
    const handle = hook.kind === 'connect' ? this.connect(hook) : this.generic(hook);
    try {
      const dir = pins.store.hookDir(handle.hookId);
      this.sensors.get(handle.hookId)?.pin(dir);
      handle.scope?.pin(join(dir, SCOPE_PIN));
      this.record({ hookId: handle.hookId, slot: handle.slot, fingerprint, follow: this.followOf(handle.hookId), compiled: hook });
    } catch (err) {
      handle.close();
      throw err;
    }
    if (earlier) this.dropPinned(earlier, 'replaced: its scope map is not the one of its policy');
    return this.pinnedHandle(handle);
  }

  /**
   * The same hook pinned by an earlier agent: its programs stay as they are, this agent takes over their ids.
   * A scoped hook's scope map, pinned beside it, becomes its policy's scope (with what it held), unless the policy
   * already has another: then undefined, and the hook is loaded anew.
   */
  private adopt(p: PinnedHook, hook: CompiledHook): HookHandle | undefined {
    let scope: PolicyScope | undefined;
    if (hook.plan.scope) {
      const path = join(this.pins!.store.hookDir(p.hookId), SCOPE_PIN);
      let pinned: BpfMap | undefined;
      try {
        pinned = PolicyScope.openPinned(path);
      } catch (err) {
        this.log.warn({ err, hookId: p.hookId, policyName: hook.plan.policyName }, 'the scope map of a pinned hook cannot be opened');
        return undefined;
      }
      scope = this.scopes.acquire(hook.plan.policyName, hook.plan.scope, () => pinned);
      const same = scope.mapId() === pinned.id();
      if (!scope.holds(pinned)) pinned.close();
      if (!same) {
        this.scopes.release(scope);
        return undefined;
      }
      this.scopeOf.set(p.hookId, scope);
    }
    this.compiled.set(p.hookId, hook);
    this.record(p);
    this.log.info({ hook: { hookId: p.hookId, policyName: hook.plan.policyName, path: hook.path, mechanism: hook.choice.mechanism } }, 'hook adopted from its pins');
    return this.pinnedHandle({
      hookId: p.hookId, slot: p.slot, mechanism: hook.choice.mechanism, target: targetName(hook.choice.target),
      reason: `${hook.choice.reason}; adopted from the pins of an earlier agent`, enforcement: enforcementOf(hook),
      counters: () => this.slotCounts(p.slot),
      close: () => {
        this.slots.release(p.slot, 1);
        for (const f of p.follow) this.follow.release(f.bit);
        this.releaseScope(p.hookId);
        this.retire(p.hookId);
      },
      ...(scope ? { scope } : {}),
    });
  }

  /** Removes an earlier agent's pinned hook, which detaches it, and frees what it held. */
  private dropPinned(p: PinnedHook, why: string): void {
    unpin(this.pins!.store.hookDir(p.hookId));
    this.slots.release(p.slot, 1);
    for (const f of p.follow) this.follow.release(f.bit);
    this.log.info({ hookId: p.hookId, policyName: p.compiled.plan.policyName, path: p.compiled.path }, `pinned hook of an earlier agent removed: ${why}`);
  }

  /** Closing a pinned hook removes its pins (the kernel then detaches it) and its record. */
  private pinnedHandle(handle: HookHandle): HookHandle {
    return {
      ...handle,
      close: () => {
        if (this.pins) unpin(this.pins.store.hookDir(handle.hookId));
        this.pinned.delete(handle.hookId);
        this.save();
        handle.close();
      },
    };
  }

  private record(p: PinnedHook): void {
    this.pinned.set(p.hookId, p);
    this.save();
  }

  private save(): void {
    if (!this.pins) return;
    this.pins.store.write({ process: this.pins.processFingerprint, hooks: [...this.pinned.values()] });
  }

  private followOf(hookId: number): { bit: number; values: string[] }[] {
    return (this.followBits.get(hookId) ?? []).map((bit) => ({ bit, values: this.follow.valuesOf(bit) }));
  }

  /** Ids of the hooks this agent keeps pinned. */
  pinnedIds(): Set<number> {
    return new Set(this.pinned.keys());
  }

  /** Pins of an earlier agent that no loaded policy adopted: removed, which detaches them. */
  dropUnadopted(): void {
    if (!this.pins) return;
    for (const p of this.pins.found.splice(0)) this.dropPinned(p, 'no loaded policy has it');
    this.save();
  }

  /** The scope of a hook's policy, held until the hook goes (releaseScope); none for a host-wide policy. */
  private takeScope(hookId: number, hook: CompiledHook): PolicyScope | undefined {
    const { plan } = hook;
    if (!plan.scope) return undefined;
    const scope = this.scopes.acquire(plan.policyName, plan.scope);
    this.scopeOf.set(hookId, scope);
    return scope;
  }

  private releaseScope(hookId: number): void {
    const scope = this.scopeOf.get(hookId);
    if (!scope) return;
    this.scopeOf.delete(hookId);
    this.scopes.release(scope);
  }

  private generic(compiled: CompiledGenericHook): HookHandle {
    if (HookGroups.groupable(compiled)) return this.member(compiled);
    const hookId = this.nextId++;
    const scope = this.takeScope(hookId, compiled);
    let hook: GenericHook;
    try {
      hook = GenericHook.load(compiled, { hookId, shared: this.shared, slots: this.slots, dispatch: this.dispatch, follow: this.follow, scope });
    } catch (err) {
      this.releaseScope(hookId);
      throw err;
    }
    this.hooks.set(hookId, hook);
    this.sensors.set(hookId, hook);
    this.followBits.set(hookId, hook.follow);
    this.compiled.set(hookId, compiled);
    this.log.info({ hook: hook.state }, 'hook attached');
    const { state } = hook;
    return {
      hookId, slot: hook.slot!, mechanism: state.mechanism, target: targetName(state.target), reason: state.reason, enforcement: enforcementOf(compiled),
      counters: () => {
        const c = hook.counters();
        return { matches: c.emitted, lost: c.lost, undecided: c.undecided };
      },
      ...(scope ? { scope } : {}),
      close: () => this.unload(hookId),
    };
  }

  /** A hook that runs in a hook group with the others of its kind (group.ts). */
  private member(compiled: CompiledGenericHook): HookHandle {
    const hookId = this.nextId++;
    const { plan, choice } = compiled;
    const hook = `${hookName(plan)} (${choice.mechanism} ${targetName(choice.target)})`;
    const slot = this.slots.register(`policy ${plan.policyName}`, [{ program: choice.program, hook }]);
    const counters = this.shared.fd('vigil_counters');
    if (counters !== undefined) CounterSlots.reset(CounterSlots.map(counters), slot);
    const followBits = followFilters(plan).map((f) => this.follow.acquire(f.values));
    const member: GroupMember = { hookId, slot, followBits, compiled };
    try {
      this.groups.add(member);
    } catch (err) {
      for (const bit of followBits) this.follow.release(bit);
      this.slots.release(slot, 1);
      throw err;
    }
    const reason = `${choice.reason}; in a hook group: one program reads the args once for the policies' hooks on ${targetName(choice.target)}`;
    const state: GenericHookState = {
      hookId, policyName: plan.policyName, hook: hookName(plan), mechanism: choice.mechanism, target: choice.target, reason, program: choice.program, state: 'attached',
    };
    this.grouped.set(hookId, { member, state });
    this.followBits.set(hookId, followBits);
    this.compiled.set(hookId, compiled);
    this.log.info({ hook: state, group: this.groups.groupOf(hookId) }, 'hook attached');
    return {
      hookId, slot, mechanism: choice.mechanism, target: targetName(choice.target), reason, enforcement: enforcementOf(compiled),
      counters: () => this.slotCounts(slot),
      close: () => this.unload(hookId),
    };
  }

  /** A hook's counts, from its counter slot. */
  private slotCounts(slot: number): ReturnType<HookHandle['counters']> {
    const fd = this.shared.fd('vigil_counters');
    const c = fd === undefined ? { emitted: 0, lost: 0, undecided: 0 } : CounterSlots.readSlot(CounterSlots.map(fd), slot);
    return { matches: c.emitted, lost: c.lost, undecided: c.undecided };
  }

  /** Hooks that run in groups are placed from now on, and loaded at endBatch(): many policies, one load per group. */
  beginBatch(): void {
    this.groups.begin();
  }

  /** Loads the hook groups changed since beginBatch(); the hooks that could not run are unloaded, each with its error. */
  endBatch(): GroupFailure[] {
    const failed = this.groups.end();
    for (const f of failed) this.unload(f.hookId);
    return failed;
  }

  /** The hooks sharing a program with this one (itself included), when it runs in a hook group. */
  groupOf(hookId: number): { slot: number; generation: number; members: number[] } | undefined {
    return this.groups.groupOf(hookId);
  }

  /** A connect deny on cgroup programs; its denials become events of its report plan. */
  private connect(c: CompiledConnectHook): HookHandle {
    const hookId = this.nextId++;
    const { plan, choice } = c;
    const cgroup = targetName(choice.target);
    const slot = this.slots.register(`policy ${plan.policyName}`, [{ program: choice.program, hook: `${c.path} (cgroup_connect)` }]);
    const sensor = new ConnectDenySensor();
    const scope = this.takeScope(hookId, c);
    const follow = c.process ? followFilters(c.process.plan).map((f) => this.follow.acquire(f.values)) : [];
    const releaseFollow = () => { for (const bit of follow) this.follow.release(bit); };
    try {
      const process = c.process && { encoded: c.process.encoded, config: bindHook(c.process.encoded, { hookId, slot, followBits: follow }) };
      sensor.load(c.connect, cgroup, { shared: this.shared, hookId, slot, sock: plan.args[0]?.type === 'sock' }, scope, process);
    } catch (err) {
      sensor.close();
      releaseFollow();
      this.releaseScope(hookId);
      this.slots.release(slot, 1);
      throw err;
    }
    this.followBits.set(hookId, follow);
    this.compiled.set(hookId, c);
    this.sensors.set(hookId, sensor);
    const counters = this.shared.fd('vigil_counters');
    this.log.info({ hook: { hookId, policyName: plan.policyName, path: c.path, mechanism: choice.mechanism, target: cgroup } }, 'hook attached');
    return {
      hookId, slot, mechanism: choice.mechanism, target: cgroup, reason: choice.reason, enforcement: enforcementOf(c),
      counters: () => ({
        matches: [...sensor.counts().values()].reduce((a, b) => a + b, 0),
        lost: counters === undefined ? 0 : CounterSlots.readSlot(CounterSlots.map(counters), slot).lost,
        undecided: 0,
      }),
      ...(scope ? { scope } : {}),
      close: () => {
        sensor.close();
        releaseFollow();
        this.followBits.delete(hookId);
        this.releaseScope(hookId);
        this.sensors.delete(hookId);
        this.slots.release(slot, 1);
        this.retire(hookId);
      },
    };
  }

  unload(hookId: number): boolean {
    const member = this.grouped.get(hookId);
    if (member) {
      this.grouped.delete(hookId);
      member.state.state = 'closed';
      try {
        this.groups.remove(hookId);
      } finally {
        for (const bit of member.member.followBits) this.follow.release(bit);
        this.followBits.delete(hookId);
        this.slots.release(member.member.slot, 1);
        this.retire(hookId);
        this.log.info({ hook: member.state }, 'hook detached');
      }
      return true;
    }
    const hook = this.hooks.get(hookId);
    if (!hook) return false;
    if (this.pinned.delete(hookId)) {
      unpin(this.pins!.store.hookDir(hookId));
      this.save();
    }
    hook.close();
    this.releaseScope(hookId);
    this.hooks.delete(hookId);
    this.sensors.delete(hookId);
    this.followBits.delete(hookId);
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
    return [...this.hooks.values(), ...this.grouped.values()].map((h) => h.state);
  }

  close(): void {
    for (const id of [...this.hooks.keys()]) this.unload(id);
    this.groups.close();
    this.grouped.clear();
    this.dispatch.close();
  }
}
