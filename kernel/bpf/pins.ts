// Pins in bpffs: a pinned link keeps its program attached after the
// process that attached it is gone, and a pinned map can be opened again by
// path. Removing the pin file drops that hold; the kernel detaches the link
// once no pin and no fd holds it.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, errno, libbpf } from './libbpf.js';
import { VigilError } from '../errors.js';

/** Where Vigil pins what must outlive the agent: its enforcement and the process sensor it reads. */
export const PIN_ROOT = '/sys/fs/bpf/vigil';

/** An fd of the object pinned at path. */
export function openPinned(path: string): number {
  const fd = libbpf.objGet(path) as number;
  if (fd < 0) throw new VigilError('VIGIL_BPF_MAP', `opening the pinned object ${path} failed: ${describeError(-errno())}`);
  return fd;
}

/** struct bpf_map_info's max_entries (ring buffers: their size in bytes). */
export function mapMaxEntries(fd: number): number {
  const info = Buffer.alloc(96);
  const len = [info.length];
  if ((libbpf.objGetInfoByFd(fd, info, len) as number) !== 0) {
    throw new VigilError('VIGIL_BPF_MAP', `reading the info of map fd ${fd} failed: ${describeError(-errno())}`);
  }
  return info.readUInt32LE(16);
}

/** Removes every pin under dir: what only they held is detached and freed. */
export function unpin(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The pin files under dir, or [] when it does not exist. */
export function pinsIn(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir).map((n) => join(dir, n));
}
