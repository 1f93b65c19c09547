// followChildren bits. Each matchBinaries filter with followChildren gets
// one of the 64 bits of the process entry's follow mask (struct
// vigil_process_entry.follow). Its binaries go into vigil_follow, which the
// process sensor reads at exec to set the bit; a fork inherits its parent's
// mask. When a bit is given, the processes already running a named binary,
// and their descendants, get it too. A released bit is cleared from every
// process entry, and again before it is given anew.
import { BpfMap } from '../../kernel/bpf/map.js';
import type { SharedMaps } from './shared-maps.js';
import { NotSupportedError, VigilError } from '../../kernel/errors.js';
import { stringKey } from '../../policies/compiler/encode.js';
import * as L from '../../kernel/abi/layouts.generated.js';

const BITS = L.vigil_bin_flag.VIGIL_BIN_FOLLOW_BIT + 1;
const E = L.vigil_process_entry;

export class FollowBits {
  /** bit -> the binaries it follows */
  private readonly used = new Map<number, Buffer[]>();
  /** Released bits that process entries may still carry. */
  private readonly stale = new Set<number>();

  constructor(private readonly shared: SharedMaps) {}

  private map(name: 'vigil_follow' | 'vigil_processes' | 'vigil_binaries', keySize: number, valueSize: number): BpfMap {
    const fd = this.shared.fd(name);
    if (fd === undefined) throw new VigilError('VIGIL_INTERNAL', `${name} is not loaded: the process sensor loads first`);
    return new BpfMap(name, fd, keySize, valueSize, false);
  }

  private follow(): BpfMap {
    return this.map('vigil_follow', L.vigil_string_key.sizeof, 8);
  }

  private processes(): BpfMap {
    return this.map('vigil_processes', 4, E.sizeof);
  }

  /** Gives a bit to a followChildren filter naming these binaries. */
  acquire(values: string[]): number {
    let bit = 0;
    while (bit < BITS && this.used.has(bit)) bit++;
    if (bit === BITS) throw new NotSupportedError('followChildren', `${BITS} matchBinaries filters with followChildren are loaded already, Vigil's limit`);
    if (this.stale.delete(bit)) this.clear(bit);
    const keys = values.map((v) => stringKey(0, Buffer.from(v)));
    this.used.set(bit, keys);
    const follow = this.follow();
    for (const k of keys) {
      const old = follow.lookup(k)?.readBigUInt64LE(0) ?? 0n;
      follow.update(k, u64(old | (1n << BigInt(bit))));
    }
    this.markRunning(bit, values);
    return bit;
  }

  /** Takes a bit a pinned hook was given: the kernel's follow map and process entries already carry it. */
  adopt(bit: number, values: string[]): void {
    if (this.used.has(bit)) throw new VigilError('VIGIL_INTERNAL', `followChildren bit ${bit} is taken twice`);
    this.used.set(bit, values.map((v) => stringKey(0, Buffer.from(v))));
  }

  /** The binaries a bit follows. */
  valuesOf(bit: number): string[] {
    return (this.used.get(bit) ?? []).map((k) => k.subarray(L.vigil_string_key.offsetof.s, L.vigil_string_key.offsetof.s + k.readUInt16LE(L.vigil_string_key.offsetof.len)).toString());
  }

  release(bit: number): void {
    const keys = this.used.get(bit);
    if (!keys) return;
    this.used.delete(bit);
    const follow = this.follow();
    for (const k of keys) {
      const old = follow.lookup(k)?.readBigUInt64LE(0);
      if (old === undefined) continue;
      const left = old & ~(1n << BigInt(bit));
      if (left) follow.update(k, u64(left));
      else follow.delete(k);
    }
    this.clear(bit);
    this.stale.add(bit);
  }

  /** Clears bit from every process entry. */
  private clear(bit: number): void {
    const map = this.processes();
    const mask = ~(1n << BigInt(bit)) & 0xffffffffffffffffn;
    for (const key of [...map.keys()]) {
      const v = map.lookup(key);
      if (!v) continue;
      const f = v.readBigUInt64LE(E.offsetof.follow);
      if (!(f & ~mask)) continue;
      v.writeBigUInt64LE(f & mask, E.offsetof.follow);
      map.update(key, v);
    }
  }

  /** Sets bit on the running processes whose binary is one of values, and on their descendants. */
  private markRunning(bit: number, values: string[]): void {
    const procs = this.processes();
    const binaries = this.map('vigil_binaries', 4, L.vigil_binary.sizeof);
    const wanted = new Set(values);
    const parentOf = new Map<number, number>();
    const matched = new Set<number>();
    for (const key of [...procs.keys()]) {
      const v = procs.lookup(key);
      if (!v) continue;
      const pid = key.readUInt32LE(0);
      parentOf.set(pid, v.readUInt32LE(E.offsetof.parent + L.vigil_process_id.offsetof.pid));
      const b = binaries.lookup(key);
      if (!b) continue;
      const len = b.readUInt32LE(L.vigil_binary.offsetof.len);
      if (len > L.vigil_limits.VIGIL_BINARY_MAX) continue;
      const path = b.subarray(L.vigil_binary.offsetof.path, L.vigil_binary.offsetof.path + len).toString();
      if (wanted.has(path)) matched.add(pid);
    }
    if (!matched.size) return;
    const followed = (pid: number): boolean => {
      for (let p: number | undefined = pid, n = 0; p !== undefined && n < 64; p = parentOf.get(p), n++) {
        if (matched.has(p)) return true;
        if (parentOf.get(p) === p) break;
      }
      return false;
    };
    for (const pid of parentOf.keys()) {
      if (!followed(pid)) continue;
      const key = Buffer.alloc(4);
      key.writeUInt32LE(pid);
      const v = procs.lookup(key);
      if (!v) continue;
      v.writeBigUInt64LE(v.readBigUInt64LE(E.offsetof.follow) | (1n << BigInt(bit)), E.offsetof.follow);
      procs.update(key, v);
    }
  }
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}
