// The scope of one loaded policy limited to pods, as the kernel holds it:
// a hash map of cgroup v2 ids (kprobes/include/scope.h) shared by every
// hook of the policy. What the Kubernetes side calls: it says which pods
// (or containers) are in the scope by their cgroups, with add(), remove()
// and replace(); matchesPod() and matchesContainer() tell it which those
// are. Until it does, the map is empty and the policy acts on nothing.
import { existsSync } from 'node:fs';
import { BpfMap, BPF_F_NO_PREALLOC, BPF_MAP_TYPE_HASH } from '../../kernel/bpf/map.js';
import { openPinned } from '../../kernel/bpf/pins.js';
import * as L from '../../kernel/abi/layouts.generated.js';
import { cgroup2Root, cgroupId, cgroupLevel } from '../../kernel/cgroup.js';
import { VigilError } from '../../kernel/errors.js';
import { containerInScope, podInScope, scopeLevel, type Labels, type PolicyScope as ScopeSpec } from '../../policies/scope.js';
import type { LabelSelector } from '../../policies/types.generated.js';

const { VIGIL_SCOPE_LEVELS: LEVELS, VIGIL_SCOPE_CGROUPS_MAX: MAX } = L.vigil_config_limits;
const ONE = Buffer.from([1]);

/** What `vigil policy list` says about a scope. */
export interface ScopeStatus {
  namespace?: string;
  podSelector?: LabelSelector;
  containerSelector?: LabelSelector;
  /** pod: pod cgroups stand for the scope; container: container cgroups. */
  level: 'pod' | 'container';
  /** Cgroups in the kernel's map now. */
  cgroups: number;
  /** Whether the Kubernetes side has said what is in the scope since the policy loaded. */
  known: boolean;
  /** In words, with what follows for enforcement. */
  note: string;
}

const key = (id: bigint): Buffer => {
  const k = Buffer.alloc(8);
  k.writeBigUInt64LE(id);
  return k;
};

export class PolicyScope {
  readonly namespace?: string;
  readonly podSelector?: LabelSelector;
  readonly containerSelector?: LabelSelector;
  /** Which cgroups to add: each selected pod's, or (with a containerSelector) each selected container's. */
  readonly level: 'pod' | 'container';
  private told = false;
  private closed = false;

  /** map: a new empty map (create()), or the pinned map of an earlier agent's hooks. */
  constructor(readonly policyName: string, readonly spec: ScopeSpec, private readonly map: BpfMap) {
    this.namespace = spec.namespace;
    this.podSelector = spec.podSelector;
    this.containerSelector = spec.containerSelector;
    this.level = scopeLevel(spec);
  }

  /** An empty scope map: u64 cgroup id -> u8, allocated as ids come. */
  static createMap(): BpfMap {
    return BpfMap.create('vigil_scope', BPF_MAP_TYPE_HASH, 8, 1, MAX, BPF_F_NO_PREALLOC);
  }

  /** A scope map an earlier agent pinned beside a hook (PolicyScope.pin). */
  static openPinned(path: string): BpfMap {
    return new BpfMap('vigil_scope', openPinned(path), 8, 1, false);
  }

  /** Pins the map at path: with the hook pinned beside it, it outlives the agent. */
  pin(path: string): void {
    this.map.pin(path);
  }

  /** The kernel's id of the map. */
  mapId(): number {
    return this.map.id();
  }

  /** Whether map is the very object this scope holds. */
  holds(map: BpfMap): boolean {
    return this.map === map;
  }

  /** The map's fd, which each hook object of the policy is given before it loads. */
  get fd(): number {
    return this.map.fd;
  }

  /** Whether a pod is in the scope (its namespace and labels). */
  matchesPod(pod: { namespace: string; labels?: Labels }): boolean {
    return podInScope(this.spec, pod);
  }

  /** Whether a container of a pod in the scope is in it (containerSelector on its name). */
  matchesContainer(container: { name: string }): boolean {
    return containerInScope(this.spec, container);
  }

  /** Puts a cgroup in the scope: its tasks, and those of every cgroup below it, are acted on from now. */
  add(cgroupId: bigint): void {
    this.live();
    this.told = true;
    this.map.update(key(cgroupId), ONE);
  }

  /** Takes a cgroup out of the scope; false when it was not in it. */
  remove(cgroupId: bigint): boolean {
    this.live();
    this.told = true;
    return this.map.delete(key(cgroupId));
  }

  /** Makes the scope exactly these cgroups (a full resync). New ones go in before old ones go out. */
  replace(ids: Iterable<bigint>): void {
    this.live();
    const want = new Set(ids);
    for (const id of want) this.map.update(key(id), ONE);
    for (const id of this.ids()) if (!want.has(id)) this.map.delete(key(id));
    this.told = true;
  }

  /**
   * add() by directory: its id, after checking it is a cgroup v2 directory
   * the kernel's walk reaches (levels 1 to VIGIL_SCOPE_LEVELS). Returns the id.
   */
  addCgroup(dir: string, root: string = cgroup2Root()): bigint {
    if (!existsSync(dir)) throw new VigilError('VIGIL_SCOPE', `${dir} does not exist`);
    const level = cgroupLevel(dir, root);
    if (level === 0) throw new VigilError('VIGIL_SCOPE', `${dir} is the cgroup v2 root: in the scope, it would make the policy act on every process`);
    if (level > LEVELS) throw new VigilError('VIGIL_SCOPE', `${dir} is at cgroup level ${level}; the kernel checks levels 1 to ${LEVELS}`);
    const id = cgroupId(dir);
    this.add(id);
    return id;
  }

  /** The cgroup ids in the kernel's map. */
  ids(): bigint[] {
    return [...this.map.keys()].map((k) => k.readBigUInt64LE(0));
  }

  status(): ScopeStatus {
    const cgroups = this.closed ? 0 : this.ids().length;
    const what = this.level === 'pod' ? 'pod' : 'container';
    let note: string;
    if (!this.told && !cgroups) note = `scope unknown: no ${what}s in scope yet (no word from Kubernetes); the policy acts on nothing`;
    else if (!this.told) note = `${cgroups} ${what} cgroups kept from before a restart; not confirmed by Kubernetes yet`;
    else if (!cgroups) note = `no ${what}s in scope: the policy acts on nothing`;
    else note = `${cgroups} ${what} cgroup${cgroups === 1 ? '' : 's'} in scope`;
    return {
      ...(this.namespace !== undefined ? { namespace: this.namespace } : {}),
      ...(this.podSelector ? { podSelector: this.podSelector } : {}),
      ...(this.containerSelector ? { containerSelector: this.containerSelector } : {}),
      level: this.level, cgroups, known: this.told, note,
    };
  }

  /** Drops this agent's hold on the map (its hooks' programs, and pins, may keep it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.map.close();
  }

  private live(): void {
    if (this.closed) throw new VigilError('VIGIL_SCOPE', `the scope of policy ${this.policyName} is closed: the policy was unloaded or replaced`);
  }
}
