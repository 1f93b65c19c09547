// The sys_enter dispatcher of syscall hooks on kernels without kprobes or
// fentry (kprobes/syscall_dispatch.bpf.c): levels of one program each on
// raw_syscalls/sys_enter, each with an array of hook programs by syscall
// number. A syscall's first hook takes its slot in level 0, a second hook
// of the same syscall level 1, and so on; a level is attached while it
// holds a hook, so a syscall with no hook costs one failed tail call.
import { BpfObject } from '../../kernel/bpf/object.js';
import { bpfObjectPath } from '../../kernel/bpf/paths.js';
import { vigil_config_limits as C } from '../../kernel/abi/layouts.generated.js';
import { VigilError } from '../../kernel/errors.js';

const PROGRAM = 'vigil_sys_enter';
const HOOKS = 'vigil_syscall_hooks';

interface Level {
  obj: BpfObject;
  taken: Set<number>;
}

export interface DispatchSlot {
  level: number;
  release(): void;
}

export class SyscallDispatch {
  private readonly levels: (Level | undefined)[] = [];

  /** Routes syscall nr to the hook program progFd until the slot is released. */
  add(nr: number, progFd: number): DispatchSlot {
    if (!Number.isInteger(nr) || nr < 0 || nr >= C.VIGIL_SYSCALLS_MAX) throw new VigilError('VIGIL_INTERNAL', `syscall number ${nr} is out of range`);
    let i = this.levels.findIndex((l) => l !== undefined && !l.taken.has(nr));
    if (i < 0) {
      i = this.levels.findIndex((l) => l === undefined);
      if (i < 0) i = this.levels.length;
      this.levels[i] = { obj: BpfObject.open(bpfObjectPath('syscall_dispatch')).load(), taken: new Set() };
    }
    const level = this.levels[i]!;
    level.obj.map(HOOKS).update(u32(nr), u32(progFd));
    level.taken.add(nr);
    // Attached once it routes something, so an empty level never runs.
    if (level.taken.size === 1) level.obj.attach([PROGRAM]);
    return { level: i, release: () => this.remove(i, nr) };
  }

  private remove(i: number, nr: number): void {
    const level = this.levels[i];
    if (!level?.taken.delete(nr)) return;
    level.obj.map(HOOKS).delete(u32(nr));
    if (level.taken.size === 0) {
      level.obj.close();
      this.levels[i] = undefined;
    }
  }

  /** Levels loaded now (attached ones). */
  get depth(): number {
    return this.levels.filter(Boolean).length;
  }

  close(): void {
    for (const l of this.levels) l?.obj.close();
    this.levels.length = 0;
  }
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
