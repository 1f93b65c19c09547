// Decoded ring buffer records: what the kernel said, before the process
// cache and enrichment turn it into an exported event.

export interface ProcessId {
  pid: number;
  /** ktime of the exec or clone; 0 when the kernel's process map had no entry. */
  ktime: bigint;
}

export interface Creds {
  uid: number; gid: number; suid: number; sgid: number;
  euid: number; egid: number; fsuid: number; fsgid: number;
}

export interface Caps {
  permitted: bigint;
  effective: bigint;
  inheritable: bigint;
}

interface RecordBase {
  ktime: bigint;
  cpu: number;
}

export interface ExecRecord extends RecordBase {
  op: 'exec';
  proc: ProcessId;
  parent: ProcessId;
  tid: number;
  auid: number;
  nspid: number;
  flags: number;
  creds: Creds;
  caps: Caps;
  cgroupId: bigint;
  binary: string;
  /** argv, argv[0] included. */
  args: string[];
  cwd: string;
}

export interface CloneRecord extends RecordBase {
  op: 'clone';
  proc: ProcessId;
  parent: ProcessId;
  tid: number;
  flags: number;
}

export interface ExitRecord extends RecordBase {
  op: 'exit';
  proc: ProcessId;
  tid: number;
  /** Wait status: exit status << 8 | terminating signal. */
  code: number;
}

export type KernelRecord = ExecRecord | CloneRecord | ExitRecord;
