// Per-program counters kept by the kernel (struct vigil_counter in the
// shared vigil_counters map): records emitted, records lost because the
// ring buffer had no room, and for policy hooks the calls with an arg
// that could not be read (undecided: no filter could judge it). Each
// program owns one slot.
import { BpfMap } from '../../kernel/bpf/map.js';
import { vigil_counter as C } from '../../kernel/abi/layouts.generated.js';
import { VigilError } from '../../kernel/errors.js';

export interface ProgramCounter {
  sensor: string;
  program: string;
  hook: string;
  emitted: number;
  lost: number;
  undecided: number;
}

export interface SlotCounts {
  emitted: number;
  lost: number;
  undecided: number;
}

/** VIGIL_COUNTER_SLOTS in kprobes/include/output.h. */
export const COUNTER_SLOTS = 1024;

export class CounterSlots {
  private readonly slots = new Map<number, { sensor: string; program: string; hook: string }>();

  /** Reserves the lowest free run of consecutive slots; the BPF side uses the same numbers. */
  register(sensor: string, programs: { program: string; hook: string }[]): number {
    let first = 0;
    while (programs.some((_, i) => this.slots.has(first + i))) first++;
    if (first + programs.length > COUNTER_SLOTS) throw new VigilError('VIGIL_LIMIT', `no free counter slots for ${sensor} (${COUNTER_SLOTS} in use)`);
    programs.forEach((p, i) => this.slots.set(first + i, { sensor, ...p }));
    return first;
  }

  /** Takes the given slot again (a pinned hook's, whose program has it in its rodata). */
  registerAt(slot: number, sensor: string, program: { program: string; hook: string }): void {
    if (this.slots.has(slot)) throw new VigilError('VIGIL_INTERNAL', `counter slot ${slot} is taken twice`);
    this.slots.set(slot, { sensor, ...program });
  }

  /** Frees slots for reuse; zero them in the kernel before they count again. */
  release(first: number, count: number): void {
    for (let i = 0; i < count; i++) this.slots.delete(first + i);
  }

  /** The shared map, as every object declares it (kprobes/include/output.h). */
  static map(fd: number): BpfMap {
    return new BpfMap('vigil_counters', fd, 4, C.sizeof, true);
  }

  /** One slot's counts, summed over CPUs. */
  static readSlot(map: BpfMap, slot: number): SlotCounts {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(slot);
    let emitted = 0n;
    let lost = 0n;
    let undecided = 0n;
    for (const v of map.lookupPerCpu(key)) {
      emitted += v.readBigUInt64LE(C.offsetof.emitted);
      lost += v.readBigUInt64LE(C.offsetof.lost);
      undecided += v.readBigUInt64LE(C.offsetof.undecided);
    }
    return { emitted: Number(emitted), lost: Number(lost), undecided: Number(undecided) };
  }

  /** Zeroes a slot's kernel counters on every CPU. */
  static reset(map: BpfMap, slot: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(slot);
    map.update(key, Buffer.alloc(Math.ceil(C.sizeof / 8) * 8 * BpfMap.possibleCpus()));
  }

  read(map: BpfMap): ProgramCounter[] {
    return [...this.slots].map(([slot, who]) => ({ ...who, ...CounterSlots.readSlot(map, slot) }));
  }
}
