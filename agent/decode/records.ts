// Decoded ring buffer records: what the kernel said, before the process
// cache and enrichment turn it into an exported event.
import type { vigil_caps, vigil_creds } from '../../kernel/abi/layouts.generated.js';

export interface ProcessId {
  pid: number;
  /** ktime of the exec or clone; 0 when the kernel's process map had no entry. */
  ktime: bigint;
}

/** struct vigil_creds: the task's uids and gids. */
export type Creds = { [K in keyof typeof vigil_creds.offsetof]: number };

/** struct vigil_caps: capability sets, one bit per CAP_*. */
export type Caps = { [K in keyof typeof vigil_caps.offsetof]: bigint };

interface RecordBase {
  ktime: bigint;
  cpu: number;
}

/** A process as the kernel saw it at exec, or /proc at the agent's start: what the process cache keeps. */
export interface ProcessImage {
  proc: ProcessId;
  /** Absent for a process /proc shows without a parent. */
  parent?: ProcessId;
  tid: number;
  auid: number;
  nspid: number;
  /** vigil_process_flag bits. */
  flags: number;
  creds: Creds;
  caps: Caps;
  cgroupId: bigint;
  binary: string;
  /** argv, argv[0] included. */
  args: string[];
  cwd: string;
  /** The executed file's inode and link count (0: a memfd or a deleted file); unknown for /proc. */
  ino?: bigint;
  nlink?: number;
  /** The name exec was given, for a file with no link left. */
  filename?: string;
  /** vigil_exec_secure bits: what the exec changed. */
  secure?: number;
  /** Namespace inode numbers by vigil_ns_type; 0 unknown. */
  ns?: number[];
}

export interface ExecRecord extends RecordBase, ProcessImage {
  op: 'exec';
  parent: ProcessId;
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
  /** Integers: 8 bytes little-endian; strings and paths: their bytes. A view of the ring: valid only while the record is handled. */
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
