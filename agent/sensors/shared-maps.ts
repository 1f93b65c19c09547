// Maps every Vigil object shares: the ring buffer, the per-program
// counters, the process map and its companions, the binaries map and the
// followChildren binaries. The first object to load creates them;
// each later object is handed the same fds before it loads.
import type { BpfObject } from '../../kernel/bpf/object.js';

export const SHARED_MAPS = ['vigil_events', 'vigil_counters', 'vigil_processes', 'vigil_binaries', 'vigil_follow'] as const;
export type SharedMapName = (typeof SHARED_MAPS)[number];

export class SharedMaps {
  private readonly fds = new Map<SharedMapName, number>();

  /** Before load: point the object's shared maps at the existing ones. */
  prepare(obj: BpfObject, present: readonly SharedMapName[] = SHARED_MAPS): void {
    for (const name of present) {
      const fd = this.fds.get(name);
      if (fd !== undefined) obj.reuseMap(name, fd);
    }
  }

  /** After load: remember the maps this object created. */
  adopt(obj: BpfObject, present: readonly SharedMapName[] = SHARED_MAPS): void {
    for (const name of present) {
      if (!this.fds.has(name)) this.fds.set(name, obj.map(name).fd);
    }
  }

  /** A map opened otherwise (a pin of an earlier agent's). */
  set(name: SharedMapName, fd: number): void {
    this.fds.set(name, fd);
  }

  fd(name: SharedMapName): number | undefined {
    return this.fds.get(name);
  }
}
