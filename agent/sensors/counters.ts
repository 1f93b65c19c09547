// Per-program counters kept by the kernel (struct vigil_counter in the
// shared vigil_counters map): records emitted and records lost because
// the ring buffer had no room. Each program owns one slot.
import { BpfMap } from '../loader/map.js';
import { vigil_counter as C } from '../events/layouts.generated.js';

export interface ProgramCounter {
  sensor: string;
  program: string;
  hook: string;
  emitted: number;
  lost: number;
}

export class CounterSlots {
  private readonly slots = new Map<number, { sensor: string; program: string; hook: string }>();
  private next = 0;

  /** Reserves consecutive slots; the BPF side uses the same numbers. */
  register(sensor: string, programs: { program: string; hook: string }[]): number {
    const first = this.next;
    programs.forEach((p, i) => this.slots.set(first + i, { sensor, ...p }));
    this.next += programs.length;
    return first;
  }

  read(map: BpfMap): ProgramCounter[] {
    const out: ProgramCounter[] = [];
    for (const [slot, who] of this.slots) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(slot);
      let emitted = 0n;
      let lost = 0n;
      for (const v of map.lookupPerCpu(key)) {
        emitted += v.readBigUInt64LE(C.offsetof.emitted);
        lost += v.readBigUInt64LE(C.offsetof.lost);
      }
      out.push({ ...who, emitted: Number(emitted), lost: Number(lost) });
    }
    return out;
  }
}
