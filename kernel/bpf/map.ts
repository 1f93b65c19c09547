// A BPF map by fd: typed lookup, update, delete and iteration over raw bytes.
// Most maps belong to a BPF object; create() makes one of its own, which
// objects are then handed before they load (BpfObject.reuseMap).
import { libbpf, libc_, describeError, errno, type Ptr } from './libbpf.js';
import { VigilError } from '../errors.js';

const PERCPU_TYPES = new Set([5 /* PERCPU_HASH */, 6 /* PERCPU_ARRAY */, 10 /* LRU_PERCPU_HASH */]);
export const BPF_ANY = 0n;
export const BPF_NOEXIST = 1n;
const ENOENT = 2;
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_F_NO_PREALLOC = 1;
/** struct bpf_map_create_opts (libbpf 1.1): sz, then map_flags at 28; 48 bytes. */
const CREATE_OPTS_SIZE = 48;
const CREATE_OPTS_FLAGS = 28;

export class BpfMap {
  constructor(
    readonly name: string,
    readonly fd: number,
    readonly keySize: number,
    readonly valueSize: number,
    readonly perCpu: boolean,
  ) {}

  /** A new map that belongs to no object; close() drops this process's hold on it. */
  static create(name: string, type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): BpfMap {
    const opts = Buffer.alloc(CREATE_OPTS_SIZE);
    opts.writeBigUInt64LE(BigInt(CREATE_OPTS_SIZE), 0);
    opts.writeUInt32LE(flags, CREATE_OPTS_FLAGS);
    const fd = libbpf.mapCreate(type, name, keySize, valueSize, maxEntries, opts) as number;
    if (fd < 0) throw new VigilError('VIGIL_BPF_MAP', `creating map ${name} failed: ${describeError(fd)}`);
    return new BpfMap(name, fd, keySize, valueSize, false);
  }

  static fromLibbpf(map: Ptr, name: string): BpfMap {
    return new BpfMap(name, libbpf.mapFd(map), libbpf.mapKeySize(map), libbpf.mapValueSize(map),
      PERCPU_TYPES.has(libbpf.mapType(map)));
  }

  private static cpus = 0;
  static possibleCpus(): number {
    if (!BpfMap.cpus) BpfMap.cpus = libbpf.numPossibleCpus();
    return BpfMap.cpus;
  }

  /** Bytes of one lookup: per-CPU maps return one 8-byte-aligned value per possible CPU. */
  private lookupSize(): number {
    return this.perCpu ? Math.ceil(this.valueSize / 8) * 8 * BpfMap.possibleCpus() : this.valueSize;
  }

  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.lookupSize());
    if (libbpf.mapLookupElem(this.fd, key, value) === 0) return value;
    if (errno() === ENOENT) return undefined;
    throw this.error('lookup', -errno());
  }

  /** Per-CPU maps: the value of each CPU. */
  lookupPerCpu(key: Buffer): Buffer[] {
    const all = this.lookup(key);
    if (!all) return [];
    const stride = Math.ceil(this.valueSize / 8) * 8;
    return Array.from({ length: BpfMap.possibleCpus() }, (_, i) => all.subarray(i * stride, i * stride + this.valueSize));
  }

  /** Returns false when flags is BPF_NOEXIST and the key is present. */
  update(key: Buffer, value: Buffer, flags = BPF_ANY): boolean {
    if (libbpf.mapUpdateElem(this.fd, key, value, flags) === 0) return true;
    const e = errno();
    if (e === 17 /* EEXIST */ && flags === BPF_NOEXIST) return false;
    throw this.error('update', -e);
  }

  delete(key: Buffer): boolean {
    if (libbpf.mapDeleteElem(this.fd, key) === 0) return true;
    if (errno() === ENOENT) return false;
    throw this.error('delete', -errno());
  }

  *keys(): Generator<Buffer> {
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      if (libbpf.mapGetNextKey(this.fd, prev, next) !== 0) return;
      yield next;
      prev = next;
    }
  }

  /** Pins the map at path in bpffs: it outlives this process until the pin is removed. */
  pin(path: string): void {
    const rc = libbpf.objPin(this.fd, path) as number;
    if (rc < 0) throw this.error(`pinning at ${path}`, rc);
  }

  /** The kernel's id of the map (struct bpf_map_info's id): two fds of one map have the same. */
  id(): number {
    const info = Buffer.alloc(96);
    const rc = libbpf.objGetInfoByFd(this.fd, info, [info.length]) as number;
    if (rc !== 0) throw this.error('reading the info', rc);
    return info.readUInt32LE(4);
  }

  /** Closes the fd of a map this process created or opened: the kernel frees it once no program or pin holds it either. */
  close(): void {
    libc_.close(this.fd);
  }

  private error(op: string, code: number): VigilError {
    return new VigilError('VIGIL_BPF_MAP', `${op} on map ${this.name} failed: ${describeError(code)}`);
  }
}
