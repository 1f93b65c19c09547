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

export interface GenericArg {
  /** Integers: 8 bytes little-endian; strings and paths: their bytes. A copy, safe to keep. */
  bytes: Buffer;
  /** vigil_arg_flag bits: truncated, error. */
  flags: number;
}

/** A policy hook fired (VIGIL_OP_GENERIC); the hook id says which plan decodes the args. */
export interface GenericRecord extends RecordBase {
  op: 'generic';
  proc: ProcessId;
  tid: number;
  hookId: number;
  /** vigil_action. */
  action: number;
  /** 1-based index of the matching selector; 0 when the hook has none. */
  selector: number;
  /** Override: the value the hook returned. */
  ret: bigint;
  args: GenericArg[];
}

export type KernelRecord = ExecRecord | CloneRecord | ExitRecord | GenericRecord;
