// Hook groups, loaded: the hooks of several policies on one function or
// tracepoint that read their args alike (policies/compiler/group.ts) run
// in one generic program, so a call costs one read of the args and one
// gate lookup however many policies watch it, and a tracepoint holds one
// program per group rather than one per policy (the kernel attaches at
// most 64 to a tracepoint).
//
// Each member keeps its hook id, counter slot and followChildren bits.
// A member joining or leaving makes a new version of its group's program:
// loaded and attached beside the running one, made current in
// vigil_group_gen (each version runs only while the map holds its
// generation), then the old one is detached. A call is judged by exactly
// one version, and a version that fails to load leaves the old running.
//
// Many policies at once (an agent's start): between begin() and end(),
// members are encoded and placed but not loaded, and end() loads each
// group that changed once. A group that then fails to load is loaded again
// member by member, and end() names those that cannot run.
import { BpfObject } from '../../kernel/bpf/object.js';
import { BpfMap } from '../../kernel/bpf/map.js';
import { bpfObjectPath } from '../../kernel/bpf/paths.js';
import { VigilError } from '../../kernel/errors.js';
import type { SharedMaps } from './shared-maps.js';
import { VALUE_MAPS } from './generic.js';
import { encodeGroup, groupKey, GROUP_MEMBERS_MAX, GROUP_SELECTORS_MAX, type GroupValues } from '../../policies/compiler/group.js';
import { explainLoadFailure, targetName } from '../../policies/compiler/mechanism.js';
import { vigil_config_limits as C } from '../../kernel/abi/layouts.generated.js';
import type { CompiledGenericHook } from '../../policies/compiler/compile.js';

const BPF_MAP_TYPE_ARRAY = 2;

const identity = (m: GroupMember) => ({ encoded: m.compiled.encoded, id: { hookId: m.hookId, slot: m.slot, followBits: m.followBits } });

/** A member end() could not run, and why. */
export interface GroupFailure {
  hookId: number;
  error: Error;
}

export interface GroupMember {
  hookId: number;
  slot: number;
  followBits: number[];
  compiled: CompiledGenericHook;
}

const MAP_OF: Record<(typeof VALUE_MAPS)[number], keyof GroupValues> = {
  vigil_int_eq: 'intEq', vigil_str_eq: 'eq', vigil_str_prefix: 'prefix', vigil_str_postfix: 'postfix', vigil_str_sub: 'sub', vigil_net_lpm: 'net',
};

/** One group: its members, and the program version that runs them. */
class HookGroup {
  readonly members: GroupMember[] = [];
  /** Placed in a batch, not loaded yet. */
  readonly pending: GroupMember[] = [];
  private obj?: BpfObject;
  private generation = 0;

  constructor(readonly key: string, readonly slot: number, private readonly groups: HookGroups) {}

  private all(): GroupMember[] {
    return [...this.members, ...this.pending];
  }

  fits(m: GroupMember): boolean {
    const all = this.all();
    return all.length < GROUP_MEMBERS_MAX && all.reduce((n, x) => n + x.compiled.plan.selectors.length, 0) + m.compiled.plan.selectors.length <= GROUP_SELECTORS_MAX;
  }

  /** Places a member to load at the batch's end; throws when the group could not encode it. */
  place(m: GroupMember): void {
    encodeGroup([...this.all(), m].map(identity), { slot: this.slot, generation: 0 });
    this.pending.push(m);
  }

  /** Loads what was placed: all at once, else one by one; returns those that cannot run. */
  flush(): GroupFailure[] {
    const pending = this.pending.splice(0);
    if (!pending.length) return [];
    try {
      this.run(this.all().concat(pending));
      return [];
    } catch {
      const failed: GroupFailure[] = [];
      for (const m of pending) {
        try {
          this.run([...this.members, m]);
        } catch (error) {
          failed.push({ hookId: m.hookId, error: error as Error });
        }
      }
      return failed;
    }
  }

  /** Runs these members from now on; throws with the running version left as it was. */
  run(members: GroupMember[]): void {
    const old = this.obj;
    if (members.length) {
      const generation = this.groups.nextGeneration();
      const obj = this.load(members, generation);
      this.groups.makeCurrent(this.slot, generation);
      this.obj = obj;
      this.generation = generation;
    } else {
      this.obj = undefined;
    }
    old?.close();
    this.members.splice(0, this.members.length, ...members);
  }

  private load(members: GroupMember[], generation: number): BpfObject {
    const { choice } = members[0].compiled;
    const group = encodeGroup(members.map(identity), { slot: this.slot, generation });
    const obj = BpfObject.open(bpfObjectPath(choice.object)).selectPrograms([choice.program]);
    try {
      for (const name of VALUE_MAPS) obj.setMaxEntries(name, Math.max(1, group.values[MAP_OF[name]].length));
      obj.setMaxEntries('vigil_gate', Math.max(1, group.gate.length));
      obj.setMaxEntries('vigil_scope', 1);
      obj.reuseMap('vigil_group_gen', this.groups.generations().fd);
      obj.setRodata({ vigil_hook: group.config });
      if (choice.attach === 'trampoline') obj.setAttachTarget(choice.program, targetName(choice.target));
      this.groups.shared.prepare(obj);
      try {
        obj.load();
      } catch (err) {
        throw explainLoadFailure(choice, `${members[0].compiled.path} (a group of ${members.length} hooks)`, err);
      }
      for (const name of VALUE_MAPS) {
        const entries = group.values[MAP_OF[name]];
        const map = entries.length ? obj.map(name) : undefined;
        for (const { key, value } of entries) map!.update(key, value);
      }
      const gate = group.gate.length ? obj.map('vigil_gate') : undefined;
      for (const { key, value } of group.gate) gate!.update(key, value);
      const { target } = choice;
      if (choice.attach === 'tracepoint' && 'subsystem' in target) obj.attachTracepoint(choice.program, target.subsystem, target.event);
      else if (choice.attach === 'kprobe') obj.attachKprobe(choice.program, targetName(target));
      else obj.attach([choice.program]);
    } catch (err) {
      obj.close();
      throw err;
    }
    return obj;
  }

  /** The version running, by generation, for tests and status. */
  running(): number {
    return this.obj ? this.generation : 0;
  }
}

/** The hook groups of an agent, by what their members share. */
export class HookGroups {
  private readonly groups = new Map<string, HookGroup[]>();
  private readonly of = new Map<number, HookGroup>();
  private gens?: BpfMap;
  private generation = 0;
  private readonly freeSlots: number[] = Array.from({ length: C.VIGIL_GROUP_SLOTS }, (_, i) => i);
  private batching = 0;

  constructor(readonly shared: SharedMaps) {}

  /** Whether a hook runs in a group rather than alone. */
  static groupable(hook: CompiledGenericHook): boolean {
    return groupKey(hook) !== undefined;
  }

  /** Runs the member in a group of its kind with room; throws with nothing changed. */
  add(m: GroupMember): void {
    const key = groupKey(m.compiled);
    if (key === undefined) throw new VigilError('VIGIL_INTERNAL', `${m.compiled.path} cannot run in a hook group`);
    const list = this.groups.get(key) ?? [];
    let group = list.find((g) => g.fits(m));
    const fresh = !group;
    if (!group) {
      const slot = this.freeSlots.shift();
      if (slot === undefined) throw new VigilError('VIGIL_LIMIT', `no free hook group slots (${C.VIGIL_GROUP_SLOTS} in use)`);
      group = new HookGroup(key, slot, this);
    }
    try {
      if (this.batching) group.place(m);
      else group.run([...group.members, m]);
    } catch (err) {
      if (fresh) this.freeSlots.unshift(group.slot);
      throw err;
    }
    if (fresh) this.groups.set(key, [...list, group]);
    this.of.set(m.hookId, group);
  }

  /** Stops running a member; its group goes on with the others. */
  remove(hookId: number): void {
    const group = this.of.get(hookId);
    if (!group) return;
    this.of.delete(hookId);
    const placed = group.pending.findIndex((x) => x.hookId === hookId);
    if (placed >= 0) {
      group.pending.splice(placed, 1);
      if (!group.members.length && !group.pending.length) this.dropGroup(group);
      return;
    }
    const rest = group.members.filter((x) => x.hookId !== hookId);
    try {
      group.run(rest);
    } catch (err) {
      // Never half-run: the group stops, and the error says which hooks went with it.
      group.run([]);
      for (const x of rest) this.of.delete(x.hookId);
      this.dropGroup(group);
      throw new VigilError('VIGIL_BPF_LOAD', `a hook group could not be reloaded without hook ${hookId}; hooks ${rest.map((x) => x.hookId).join(', ')} stopped with it`, { cause: err });
    }
    if (!rest.length && !group.pending.length) this.dropGroup(group);
  }

  /** From now until end(), members are placed, not loaded. */
  begin(): void {
    this.batching++;
  }

  /** Loads the groups that changed since begin(); the members that cannot run are out of their groups. */
  end(): GroupFailure[] {
    if (--this.batching > 0) return [];
    const failed: GroupFailure[] = [];
    for (const list of [...this.groups.values()]) {
      for (const g of list) {
        const out = g.flush();
        for (const f of out) this.of.delete(f.hookId);
        failed.push(...out);
        if (!g.members.length) this.dropGroup(g);
      }
    }
    return failed;
  }

  private dropGroup(group: HookGroup): void {
    const list = (this.groups.get(group.key) ?? []).filter((g) => g !== group);
    if (list.length) this.groups.set(group.key, list);
    else this.groups.delete(group.key);
    this.freeSlots.push(group.slot);
    this.gens?.update(slotKey(group.slot), u32(0));
  }

  /** The members that share a program with this hook, itself included. */
  groupOf(hookId: number): { slot: number; generation: number; members: number[] } | undefined {
    const g = this.of.get(hookId);
    return g && { slot: g.slot, generation: g.running(), members: g.members.map((m) => m.hookId) };
  }

  nextGeneration(): number {
    return ++this.generation;
  }

  generations(): BpfMap {
    this.gens ??= BpfMap.create('vigil_group_gen', BPF_MAP_TYPE_ARRAY, 4, 4, C.VIGIL_GROUP_SLOTS);
    return this.gens;
  }

  makeCurrent(slot: number, generation: number): void {
    this.generations().update(slotKey(slot), u32(generation));
  }

  close(): void {
    for (const list of this.groups.values()) for (const g of list) g.run([]);
    this.groups.clear();
    this.of.clear();
    this.gens?.close();
    this.gens = undefined;
  }
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const slotKey = u32;
