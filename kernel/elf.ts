// What the uprobe hooks need of an ELF file: whether it is one (64-bit,
// little-endian), the file offset of a virtual address (through its
// PT_LOAD segments, as the kernel maps them), and whether it defines a
// function symbol (.symtab or .dynsym). Reads the headers and tables only.
import { closeSync, openSync, readSync } from 'node:fs';
import { VigilError } from './errors.js';

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;

interface Segment { vaddr: bigint; offset: bigint; filesz: bigint }

export class ElfFile {
  private constructor(readonly path: string, private readonly fd: number, private readonly head: Buffer) {}

  /** Opens path; throws a VigilError saying why it is not a 64-bit little-endian ELF file. */
  static open(path: string): ElfFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new VigilError('VIGIL_POLICY_INVALID', `cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) {
      closeSync(fd);
      throw new VigilError('VIGIL_POLICY_INVALID', `${path} is not a 64-bit little-endian ELF file`);
    }
    return new ElfFile(path, fd, head);
  }

  close(): void {
    closeSync(this.fd);
  }

  private read(offset: bigint | number, length: number): Buffer {
    const b = Buffer.alloc(length);
    readSync(this.fd, b, 0, length, Number(offset));
    return b;
  }

  private segments(): Segment[] {
    const phoff = this.head.readBigUInt64LE(32);
    const size = this.head.readUInt16LE(54);
    const count = this.head.readUInt16LE(56);
    const table = this.read(phoff, size * count);
    const out: Segment[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * size;
      if (table.readUInt32LE(at) !== PT_LOAD) continue;
      out.push({ offset: table.readBigUInt64LE(at + 8), vaddr: table.readBigUInt64LE(at + 16), filesz: table.readBigUInt64LE(at + 32) });
    }
    return out;
  }

  /** The file offset at which the kernel finds virtual address addr, or undefined when no loaded segment holds it. */
  fileOffset(addr: number): number | undefined {
    const a = BigInt(addr);
    const seg = this.segments().find((s) => a >= s.vaddr && a < s.vaddr + s.filesz);
    return seg ? Number(a - seg.vaddr + seg.offset) : undefined;
  }

  /** Names of the function symbols the file defines (.symtab, else .dynsym). */
  functionNames(): Set<string> {
    const shoff = this.head.readBigUInt64LE(40);
    const size = this.head.readUInt16LE(58);
    const count = this.head.readUInt16LE(60);
    const table = this.read(shoff, size * count);
    const section = (i: number) => ({
      type: table.readUInt32LE(i * size + 4), offset: table.readBigUInt64LE(i * size + 24), size: table.readBigUInt64LE(i * size + 32),
      link: table.readUInt32LE(i * size + 40), entsize: table.readBigUInt64LE(i * size + 56),
    });
    const names = new Set<string>();
    for (let i = 0; i < count; i++) {
      const s = section(i);
      if ((s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) || s.entsize !== 24n) continue;
      const strs = section(s.link);
      const syms = this.read(s.offset, Number(s.size));
      const str = this.read(strs.offset, Number(strs.size));
      for (let at = 0; at + 24 <= syms.length; at += 24) {
        const type = syms[at + 4] & 0xf;
        const shndx = syms.readUInt16LE(at + 6);
        if ((type !== 2 /* STT_FUNC */ && type !== 10 /* STT_GNU_IFUNC */) || shndx === 0) continue;
        const name = syms.readUInt32LE(at);
        const end = str.indexOf(0, name);
        names.add(str.toString('latin1', name, end < 0 ? str.length : end));
      }
    }
    return names;
  }
}
