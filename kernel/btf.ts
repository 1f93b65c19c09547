// The running kernel's BTF, read through libbpf: which functions and
// structs exist, and how many parameters a function takes.
import { existsSync } from 'node:fs';
import koffi from 'koffi';
import { BtfTypeHead, libbpf, libbpfProblem, type Ptr } from './bpf/libbpf.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const KIND = { STRUCT: 4, FUNC: 12, FUNC_PROTO: 13 } as const;

interface BtfType { name_off: number; info: number; size_or_type: number }

export class KernelBtf {
  private funcs?: string[];

  private constructor(private btf: Ptr) {}

  /** The kernel's BTF, or the reason it cannot be read. */
  static open(): KernelBtf | string {
    if (!existsSync(VMLINUX)) return `${VMLINUX} is absent`;
    const problem = libbpfProblem();
    if (problem) return problem;
    const btf = libbpf.btfLoadVmlinux();
    return btf ? new KernelBtf(btf) : `libbpf could not read ${VMLINUX}`;
  }

  private type(id: number): BtfType {
    return koffi.decode(libbpf.btfTypeById(this.btf, id), BtfTypeHead) as BtfType;
  }

  private kind = (t: BtfType): number => (t.info >>> 24) & 0x1f;

  hasFunc(name: string): boolean {
    return libbpf.btfFindByNameKind(this.btf, name, KIND.FUNC) > 0;
  }

  hasStruct(name: string): boolean {
    return libbpf.btfFindByNameKind(this.btf, name, KIND.STRUCT) > 0;
  }

  /** Parameter count of a function, or undefined when BTF lacks it. */
  funcParams(name: string): number | undefined {
    const id = libbpf.btfFindByNameKind(this.btf, name, KIND.FUNC);
    if (id <= 0) return undefined;
    const proto = this.type(this.type(id).size_or_type);
    return this.kind(proto) === KIND.FUNC_PROTO ? proto.info & 0xffff : undefined;
  }

  /** Every function name, for suggestions. Reads the whole BTF once (~0.2 s). */
  funcNames(): string[] {
    if (!this.funcs) {
      this.funcs = [];
      const count = libbpf.btfTypeCnt(this.btf);
      for (let id = 1; id < count; id++) {
        const t = this.type(id);
        if (this.kind(t) === KIND.FUNC) this.funcs.push(libbpf.btfNameByOffset(this.btf, t.name_off) ?? '');
      }
    }
    return this.funcs;
  }

  close(): void {
    if (this.btf) libbpf.btfFree(this.btf);
    this.btf = null;
  }
}
