// A BPF object's lifecycle as explicit steps: open, configure (rodata,
// map sizes, shared maps, which programs load), load, attach, close.
// Cleanup runs in reverse order of attachment.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { libbpf, libc_, captureMessages, withSignalsBlocked, describeError, errno, isNull, decodeCString, view, UprobeOpts, type Ptr } from './libbpf.js';
import { BpfMap } from './map.js';
import { VigilError } from '../errors.js';

const BTF_KIND_VAR = 14;
const BTF_KIND_DATASEC = 15;

export interface Program {
  name: string;
  section: string;
  ptr: Ptr;
}

export class BpfObject {
  readonly path: string;
  private obj: Ptr;
  private links: { program: string; link: Ptr }[] = [];
  private loaded = false;

  private constructor(path: string, obj: Ptr) {
    this.path = path;
    this.obj = obj;
  }

  static open(path: string): BpfObject {
    if (!existsSync(path)) throw new VigilError('VIGIL_BPF_OPEN', `${path} does not exist`, { hint: 'run npm run build' });
    const { value: obj, log } = captureMessages(() => libbpf.objectOpenFile(path, null));
    if (isNull(obj)) {
      throw new VigilError('VIGIL_BPF_OPEN', `cannot open ${path}: ${describeError(-errno())}`, { log });
    }
    return new BpfObject(path, obj);
  }

  programs(): Program[] {
    const out: Program[] = [];
    for (let p = libbpf.objectNextProgram(this.obj, null); !isNull(p); p = libbpf.objectNextProgram(this.obj, p)) {
      out.push({ name: libbpf.programName(p) as string, section: libbpf.programSectionName(p) as string, ptr: p });
    }
    return out;
  }

  private program(name: string): Program {
    const p = this.programs().find((x) => x.name === name);
    if (!p) throw new VigilError('VIGIL_BPF_OPEN', `${this.path} has no program ${name}`);
    return p;
  }

  private mapPtr(name: string): Ptr {
    for (let m = libbpf.objectNextMap(this.obj, null); !isNull(m); m = libbpf.objectNextMap(this.obj, m)) {
      const n = libbpf.mapName(m) as string;
      if (n === name || (name.startsWith('.') && n.endsWith(name))) return m;
    }
    throw new VigilError('VIGIL_BPF_MAP', `${this.path} has no map ${name}`);
  }

  /** Loads only the named programs; the others stay in the object unloaded. */
  selectPrograms(names: string[]): this {
    for (const p of this.programs()) libbpf.programSetAutoload(p.ptr, names.includes(p.name));
    return this;
  }

  /** Makes this object use an existing map (shared by name across objects). */
  reuseMap(name: string, fd: number): this {
    const rc = libbpf.mapReuseFd(this.mapPtr(name), fd);
    if (rc < 0) throw new VigilError('VIGIL_BPF_MAP', `reuse of map ${name} failed: ${describeError(rc)}`);
    return this;
  }

  setMaxEntries(name: string, entries: number): this {
    const rc = libbpf.mapSetMaxEntries(this.mapPtr(name), entries);
    if (rc < 0) throw new VigilError('VIGIL_BPF_MAP', `resizing map ${name} failed: ${describeError(rc)}`);
    return this;
  }

  /** Sets `const volatile` globals before load, by name, as little-endian integers or bytes. */
  setRodata(values: Record<string, number | bigint | Buffer>): this {
    const btf = libbpf.objectBtf(this.obj);
    const secId = libbpf.btfFindByNameKind(btf, '.rodata', BTF_KIND_DATASEC);
    if (secId < 0) throw new VigilError('VIGIL_BPF_MAP', `${this.path} has no .rodata`);
    const sec = Buffer.from(view(libbpf.btfTypeById(btf, secId), 12));
    const vlen = sec.readUInt32LE(4) & 0xffff;
    const infos = Buffer.from(view(libbpf.btfTypeById(btf, secId), 12 + 12 * vlen));
    const size = [0];
    const data = libbpf.mapInitialValue(this.mapPtr('.rodata'), size);
    const mem = Buffer.from(view(data, size[0]));
    const seen = new Set<string>();
    for (let i = 0; i < vlen; i++) {
      const [type, offset, len] = [0, 4, 8].map((o) => infos.readUInt32LE(12 + 12 * i + o));
      const t = Buffer.from(view(libbpf.btfTypeById(btf, type), 12));
      if (((t.readUInt32LE(4) >> 24) & 0x1f) !== BTF_KIND_VAR) continue;
      const name = libbpf.btfNameByOffset(btf, t.readUInt32LE(0)) as string;
      if (!(name in values)) continue;
      writeValue(mem, offset, len, values[name], name);
      seen.add(name);
    }
    const missing = Object.keys(values).filter((k) => !seen.has(k));
    if (missing.length) throw new VigilError('VIGIL_BPF_MAP', `${this.path} has no rodata ${missing.join(', ')}`);
    return this;
  }

  load(): this {
    const { value: rc, log } = captureMessages(() => withSignalsBlocked(() => libbpf.objectLoad(this.obj)));
    if (rc < 0) {
      throw new VigilError('VIGIL_BPF_LOAD', `loading ${this.path} failed: ${describeError(rc)}`, {
        log, hint: lastLine(log),
      });
    }
    this.loaded = true;
    return this;
  }

  /** Attaches every loaded program by its section (tp_btf/…, tp/…, kprobe/…, lsm/…). */
  attach(names?: string[]): this {
    for (const p of this.programs()) {
      if (names ? !names.includes(p.name) : !libbpf.programAutoload(p.ptr)) continue;
      const { value: link, log } = captureMessages(() => libbpf.programAttach(p.ptr));
      if (isNull(link)) {
        throw new VigilError('VIGIL_BPF_ATTACH', `attaching ${p.name} (${p.section}) failed: ${describeError(-errno())}`, { log });
      }
      this.links.push({ program: p.name, link });
    }
    return this;
  }

  /** Before load: the kernel function (fentry, fmod_ret) or LSM hook a program attaches to. */
  setAttachTarget(name: string, target: string): this {
    const p = this.program(name);
    const { value: rc, log } = captureMessages(() => libbpf.programSetAttachTarget(p.ptr, 0, target));
    if (rc < 0) throw new VigilError('VIGIL_BPF_ATTACH', `${name}: no attach target ${target} in the kernel's BTF: ${describeError(rc)}`, { log });
    return this;
  }

  /** Attaches a program (SEC("tp")) to the tracepoint category/name. */
  attachTracepoint(name: string, category: string, event: string): this {
    const p = this.program(name);
    return this.keepLink(name, `tracepoint ${category}/${event}`, () => libbpf.programAttachTracepoint(p.ptr, category, event));
  }

  /** Attaches a program (SEC("kprobe")) to a kernel function's entry. */
  attachKprobe(name: string, func: string): this {
    const p = this.program(name);
    return this.keepLink(name, `kprobe ${func}`, () => libbpf.programAttachKprobe(p.ptr, false, func));
  }

  /** Attaches a program (SEC("kretprobe")) to a kernel function's return. */
  attachKretprobe(name: string, func: string): this {
    const p = this.program(name);
    return this.keepLink(name, `kretprobe ${func}`, () => libbpf.programAttachKprobe(p.ptr, true, func));
  }

  /**
   * Attaches a program (SEC("uprobe"), SEC("uretprobe")) to a function of an
   * executable or library, for every process: at a file offset, or at a symbol
   * that libbpf resolves in the file (offset then counts from it).
   */
  attachUprobe(name: string, binary: string, at: { offset: number; symbol?: string; refCtrOffset?: number; retprobe?: boolean }): this {
    const p = this.program(name);
    const opts = {
      sz: koffi.sizeof(UprobeOpts), ref_ctr_offset: at.refCtrOffset ?? 0, bpf_cookie: 0, retprobe: at.retprobe ?? false, func_name: at.symbol ?? null,
    };
    const what = `${at.retprobe ? 'uretprobe' : 'uprobe'} ${binary}:${at.symbol ?? `0x${at.offset.toString(16)}`}`;
    return this.keepLink(name, what, () => libbpf.programAttachUprobeOpts(p.ptr, -1, binary, at.offset, opts) as Ptr);
  }

  private keepLink(name: string, what: string, attach: () => Ptr): this {
    const { value: link, log } = captureMessages(attach);
    if (isNull(link)) throw new VigilError('VIGIL_BPF_ATTACH', `attaching ${name} to ${what} failed: ${describeError(-errno())}`, { log });
    this.links.push({ program: name, link });
    return this;
  }

  attachCgroup(name: string, cgroupPath: string): this {
    const fd = libc_.open(cgroupPath, 0o200000 /* O_DIRECTORY */);
    if (fd < 0) throw new VigilError('VIGIL_BPF_ATTACH', `cannot open cgroup ${cgroupPath}: ${describeError(-errno())}`);
    try {
      const p = this.program(name);
      const { value: link, log } = captureMessages(() => libbpf.programAttachCgroup(p.ptr, fd));
      if (isNull(link)) {
        throw new VigilError('VIGIL_BPF_ATTACH', `attaching ${name} to ${cgroupPath} failed: ${describeError(-errno())}`, { log });
      }
      this.links.push({ program: name, link });
    } finally {
      libc_.close(fd);
    }
    return this;
  }

  attachedPrograms(): string[] {
    return this.links.map((l) => l.program);
  }

  /**
   * Pins every attached link under dir (created), each named by its program,
   * and the named maps as map-<name>: what is pinned stays in the kernel after
   * close() and after the process ends, until the pins are removed.
   */
  pin(dir: string, maps: readonly string[] = []): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.links.forEach(({ program, link }, i) => {
      const path = join(dir, this.links.findIndex((l) => l.program === program) === i ? program : `${program}-${i}`);
      const rc = libbpf.linkPin(link, path) as number;
      if (rc < 0) throw new VigilError('VIGIL_BPF_ATTACH', `pinning ${program} at ${path} failed: ${describeError(rc)}`);
    });
    for (const name of maps) {
      const m = this.mapPtr(name);
      const rc = libbpf.mapPin(m, join(dir, `map-${name}`)) as number;
      if (rc < 0) throw new VigilError('VIGIL_BPF_MAP', `pinning map ${name} in ${dir} failed: ${describeError(rc)}`);
    }
  }

  map(name: string): BpfMap {
    if (!this.loaded) throw new VigilError('VIGIL_BPF_MAP', `map ${name} used before ${this.path} was loaded`);
    return BpfMap.fromLibbpf(this.mapPtr(name), name);
  }

  programFd(name: string): number {
    return libbpf.programFd(this.program(name).ptr);
  }

  /** Detaches in reverse order, then frees the object and its maps. */
  close(): void {
    for (const { link } of this.links.reverse()) libbpf.linkDestroy(link);
    this.links = [];
    if (this.obj) libbpf.objectClose(this.obj);
    this.obj = null;
  }
}

function writeValue(mem: Buffer, offset: number, len: number, v: number | bigint | Buffer, name: string): void {
  if (Buffer.isBuffer(v)) {
    if (v.length > len) throw new VigilError('VIGIL_BPF_MAP', `rodata ${name}: ${v.length} bytes do not fit in ${len}`);
    v.copy(mem, offset);
    return;
  }
  const big = BigInt(v);
  for (let i = 0; i < len; i++) mem[offset + i] = Number((big >> BigInt(8 * i)) & 0xffn);
}

function lastLine(log: string): string | undefined {
  const lines = log.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('libbpf:') && !l.startsWith('--'));
  return lines.at(-1);
}

export { decodeCString };
