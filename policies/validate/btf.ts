// The running kernel's BTF, read through libbpf (koffi): which functions
// and structs exist, and how many parameters a function takes.
import { existsSync } from 'node:fs';
import koffi from 'koffi';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const KIND = { STRUCT: 4, FUNC: 12, FUNC_PROTO: 13 } as const;

type Ptr = unknown;

interface Binding {
  load: () => Ptr;
  free: (btf: Ptr) => void;
  find: (btf: Ptr, name: string, kind: number) => number;
  typeById: (btf: Ptr, id: number) => Ptr;
  typeCount: (btf: Ptr) => number;
  nameByOffset: (btf: Ptr, offset: number) => string | null;
}

let binding: Binding | undefined;
let btfType: ReturnType<typeof koffi.struct> | undefined;

function bind(): Binding {
  if (binding) return binding;
  const lib = koffi.load('libbpf.so.1');
  btfType = koffi.struct('vigil_policy_btf_type', { name_off: 'uint32_t', info: 'uint32_t', size_or_type: 'uint32_t' });
  binding = {
    load: lib.func('void *btf__load_vmlinux_btf(void)'),
    free: lib.func('void btf__free(void *btf)'),
    find: lib.func('int btf__find_by_name_kind(const void *btf, const char *name, uint32_t kind)'),
    typeById: lib.func('const void *btf__type_by_id(const void *btf, uint32_t id)'),
    typeCount: lib.func('uint32_t btf__type_cnt(const void *btf)'),
    nameByOffset: lib.func('const char *btf__name_by_offset(const void *btf, uint32_t offset)'),
  };
  return binding;
}

interface BtfType { name_off: number; info: number; size_or_type: number }

export class KernelBtf {
  private funcs?: string[];

  private constructor(private readonly lib: Binding, private btf: Ptr) {}

  /** The kernel's BTF, or the reason it cannot be read. */
  static open(): KernelBtf | string {
    if (!existsSync(VMLINUX)) return `${VMLINUX} is absent`;
    let lib: Binding;
    try {
      lib = bind();
    } catch (err) {
      return `libbpf.so.1 cannot be loaded (${(err as Error).message})`;
    }
    const btf = lib.load();
    return btf ? new KernelBtf(lib, btf) : `libbpf could not read ${VMLINUX}`;
  }

  private type(id: number): BtfType {
    return koffi.decode(this.lib.typeById(this.btf, id), btfType!) as BtfType;
  }

  private kind = (t: BtfType): number => (t.info >>> 24) & 0x1f;

  hasFunc(name: string): boolean {
    return this.lib.find(this.btf, name, KIND.FUNC) > 0;
  }

  hasStruct(name: string): boolean {
    return this.lib.find(this.btf, name, KIND.STRUCT) > 0;
  }

  /** Parameter count of a function, or undefined when BTF lacks it. */
  funcParams(name: string): number | undefined {
    const id = this.lib.find(this.btf, name, KIND.FUNC);
    if (id <= 0) return undefined;
    const proto = this.type(this.type(id).size_or_type);
    return this.kind(proto) === KIND.FUNC_PROTO ? proto.info & 0xffff : undefined;
  }

  /** Every function name, for suggestions. Reads the whole BTF once (~0.2 s). */
  funcNames(): string[] {
    if (!this.funcs) {
      this.funcs = [];
      const count = this.lib.typeCount(this.btf);
      for (let id = 1; id < count; id++) {
        const t = this.type(id);
        if (this.kind(t) === KIND.FUNC) this.funcs.push(this.lib.nameByOffset(this.btf, t.name_off) ?? '');
      }
    }
    return this.funcs;
  }

  close(): void {
    if (this.btf) this.lib.free(this.btf);
    this.btf = null;
  }
}
