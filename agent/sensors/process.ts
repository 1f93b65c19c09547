// The base sensor: exec, fork and exit from tracepoints (kprobes/process.bpf.c),
// and the in-kernel process and binaries maps seeded with the processes
// found in /proc.
import { statSync } from 'node:fs';
import { BpfObject } from '../../kernel/bpf/object.js';
import { bpfObjectPath } from '../../kernel/bpf/paths.js';
import { BPF_NOEXIST } from '../../kernel/bpf/map.js';
import { SHARED_MAPS, type SharedMaps } from './shared-maps.js';
import { BpfMap } from '../../kernel/bpf/map.js';
import { openPinned, pinsIn } from '../../kernel/bpf/pins.js';
import type { CounterSlots } from './counters.js';
import type { ProcfsProcess } from '../process/procfs.js';
import * as L from '../../kernel/abi/layouts.generated.js';
import { VigilError } from '../../kernel/errors.js';

/** Programs in slot order: the BPF file numbers its counter slots the same way. */
export const PROCESS_PROGRAMS = [
  { program: 'vigil_exec', hook: 'tp_btf/sched_process_exec' },
  { program: 'vigil_fork', hook: 'tp_btf/sched_process_fork' },
  { program: 'vigil_exit', hook: 'tp_btf/sched_process_exit' },
];

export interface ProcessSensorOptions {
  /** Ring buffer size in bytes: a power of two, a multiple of the page size. */
  ringBytes: number;
}

export class ProcessSensor {
  readonly name = 'process';
  private obj?: BpfObject;
  private shared?: SharedMaps;
  /** Where the pinned sensor this agent adopted lives. */
  private adopted?: string;

  load(shared: SharedMaps, slots: CounterSlots, opts: ProcessSensorOptions): void {
    const first = slots.register(this.name, PROCESS_PROGRAMS);
    if (first !== 0) throw new VigilError('VIGIL_INTERNAL', 'the process sensor must own counter slots 0..2');
    const obj = BpfObject.open(bpfObjectPath('process'));
    this.obj = obj;
    try {
      obj.setMaxEntries('vigil_events', opts.ringBytes);
      shared.prepare(obj);
      obj.load();
      shared.adopt(obj);
      obj.attach();
    } catch (err) {
      this.close();
      throw err;
    }
    this.shared = shared;
  }

  /** An earlier agent's pinned sensor: its maps become the shared maps, its programs stay attached. */
  adopt(shared: SharedMaps, slots: CounterSlots, dir: string): void {
    if (slots.register(this.name, PROCESS_PROGRAMS) !== 0) throw new VigilError('VIGIL_INTERNAL', 'the process sensor must own counter slots 0..2');
    for (const name of SHARED_MAPS) shared.set(name, openPinned(`${dir}/map-${name}`));
    this.shared = shared;
    this.adopted = dir;
  }

  /** Pins the programs and the shared maps under dir, so they outlive the agent. */
  pin(dir: string): void {
    this.obj?.pin(dir, SHARED_MAPS);
  }

  /** Writes /proc's processes into the kernel maps, unless the kernel already saw them. Returns those written. */
  seed(procs: ProcfsProcess[]): ProcfsProcess[] {
    const E = L.vigil_process_entry;
    const map = new BpfMap('vigil_processes', this.shared!.fd('vigil_processes')!, 4, E.sizeof, false);
    const binaries = new BpfMap('vigil_binaries', this.shared!.fd('vigil_binaries')!, 4, L.vigil_binary.sizeof, false);
    const P = L.vigil_process_id.offsetof;
    const written: ProcfsProcess[] = [];
    for (const p of procs) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(p.proc.pid);
      const v = Buffer.alloc(E.sizeof);
      v.writeUInt32LE(p.proc.pid, E.offsetof.proc + P.pid);
      v.writeBigUInt64LE(p.proc.ktime, E.offsetof.proc + P.ktime);
      v.writeUInt32LE(p.ppid, E.offsetof.parent + P.pid);
      v.writeBigUInt64LE(p.parent?.ktime ?? 0n, E.offsetof.parent + P.ktime);
      v.writeUInt32LE(p.flags, E.offsetof.flags);
      v.writeUInt32LE(p.nspid, E.offsetof.nspid);
      // What matchCapabilityChanges and matchNamespaceChanges compare with: the state now.
      v.writeBigUInt64LE(p.caps.permitted, E.offsetof.caps + L.vigil_caps.offsetof.permitted);
      v.writeBigUInt64LE(p.caps.effective, E.offsetof.caps + L.vigil_caps.offsetof.effective);
      v.writeBigUInt64LE(p.caps.inheritable, E.offsetof.caps + L.vigil_caps.offsetof.inheritable);
      NS_FILES.forEach((name, t) => v.writeUInt32LE(nsInode(p.proc.pid, name), E.offsetof.ns + 4 * t));
      if (!map.update(key, v, BPF_NOEXIST)) continue;
      written.push(p);
      if (!p.kernelThread) binaries.update(key, binaryValue(p.binary), BPF_NOEXIST);
    }
    return written;
  }

  attached(): string[] {
    if (this.adopted) return pinsIn(this.adopted).filter((p) => !p.includes('/map-')).map((p) => p.slice(this.adopted!.length + 1));
    return this.obj?.attachedPrograms() ?? [];
  }

  close(): void {
    this.obj?.close();
    this.obj = undefined;
  }
}

/** /proc/PID/ns/ names, in enum vigil_ns_type order. */
const NS_FILES = ['uts', 'ipc', 'mnt', 'pid', 'pid_for_children', 'net', 'time', 'time_for_children', 'cgroup', 'user'];

/** The inode number of a namespace of pid; 0 when unreadable (the kernel side then ignores it). */
function nsInode(pid: number, name: string): number {
  try {
    return statSync(`/proc/${pid}/ns/${name}`).ino;
  } catch {
    return 0;
  }
}

/** struct vigil_binary: the path's full length and its first VIGIL_BINARY_MAX bytes. */
export function binaryValue(path: string): Buffer {
  const B = L.vigil_binary;
  const bytes = Buffer.from(path);
  const v = Buffer.alloc(B.sizeof);
  v.writeUInt32LE(bytes.length, B.offsetof.len);
  bytes.copy(v, B.offsetof.path, 0, Math.min(bytes.length, L.vigil_limits.VIGIL_BINARY_MAX));
  return v;
}
