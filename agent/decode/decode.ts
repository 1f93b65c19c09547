// Turns ring buffer bytes into records. Every record starts with
// struct vigil_msg_header; the decoder dispatches on its op code through
// a table, and counts ops it does not know instead of failing.
import * as L from '../../kernel/abi/layouts.generated.js';
import { validUtf8 } from './utf8.js';
import type { KernelRecord, ProcessId, ExecRecord, GenericRecord, GenericArg } from './records.js';

type Decoder = (dv: DataView, at: number, len: number) => KernelRecord;

const H = L.vigil_msg_header.offsetof;
const PID = L.vigil_process_id.offsetof;
const CR = L.vigil_creds.offsetof;
const CAP = L.vigil_caps.offsetof;
const EX = L.vigil_msg_exec.offsetof;
const CL = L.vigil_msg_clone.offsetof;
const XT = L.vigil_msg_exit.offsetof;
const GN = L.vigil_msg_generic.offsetof;
const OP = L.vigil_op;

const u32 = (dv: DataView, at: number): number => dv.getUint32(at, true);
const u64 = (dv: DataView, at: number): bigint => dv.getBigUint64(at, true);

const processId = (dv: DataView, at: number): ProcessId => ({ pid: u32(dv, at + PID.pid), ktime: u64(dv, at + PID.ktime) });

/** The ring's bytes as a Buffer, made once per ArrayBuffer: strings are read from it without a view per string. */
let bytes: Buffer = Buffer.alloc(0);

function bytesOf(dv: DataView): Buffer {
  if (bytes.buffer !== dv.buffer) bytes = Buffer.from(dv.buffer);
  return bytes;
}

/** Kernel bytes as a string: ASCII, the common case, directly; anything else as valid UTF-8. */
function text(dv: DataView, at: number, len: number): string {
  const b = bytesOf(dv);
  const start = dv.byteOffset + at;
  const end = start + len;
  for (let i = start; i < end; i++) {
    if (b[i] >= 0x80) return validUtf8(b.subarray(start, end));
  }
  return b.toString('latin1', start, end);
}

/** n bytes at `from`, as many as the record holds before `end`. */
const field = (dv: DataView, from: number, n: number, end: number): string => text(dv, from, Math.max(0, Math.min(n, end - from)));

function splitArgs(raw: string): string[] {
  const parts = raw.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

function namespaces(dv: DataView, at: number): number[] {
  const ns: number[] = [];
  for (let i = 0; i < L.vigil_ns_type.VIGIL_NS_TYPES; i++) ns.push(u32(dv, at + 4 * i));
  return ns;
}

function decodeExec(dv: DataView, at: number, len: number): ExecRecord {
  const c = at + EX.creds;
  const k = at + EX.caps;
  const binaryLen = dv.getUint16(at + EX.binary_len, true);
  const argsLen = dv.getUint16(at + EX.args_len, true);
  const cwdLen = dv.getUint16(at + EX.cwd_len, true);
  const filenameLen = dv.getUint16(at + EX.filename_len, true);
  // The strings follow the fixed part back to back; a short record keeps what it has.
  const end = at + len;
  const binaryAt = at + L.vigil_msg_exec.sizeof;
  const argsAt = binaryAt + binaryLen;
  const cwdAt = argsAt + argsLen;
  const filenameAt = cwdAt + cwdLen;
  return {
    op: 'exec',
    ktime: u64(dv, at + H.ktime),
    cpu: u32(dv, at + H.cpu),
    proc: processId(dv, at + EX.proc),
    parent: processId(dv, at + EX.parent),
    tid: u32(dv, at + EX.tid),
    auid: u32(dv, at + EX.auid),
    nspid: u32(dv, at + EX.nspid),
    flags: u32(dv, at + EX.flags),
    creds: {
      uid: u32(dv, c + CR.uid), gid: u32(dv, c + CR.gid), suid: u32(dv, c + CR.suid), sgid: u32(dv, c + CR.sgid),
      euid: u32(dv, c + CR.euid), egid: u32(dv, c + CR.egid), fsuid: u32(dv, c + CR.fsuid), fsgid: u32(dv, c + CR.fsgid),
    },
    caps: { permitted: u64(dv, k + CAP.permitted), effective: u64(dv, k + CAP.effective), inheritable: u64(dv, k + CAP.inheritable) },
    cgroupId: u64(dv, at + EX.cgroup_id),
    binary: field(dv, binaryAt, binaryLen, end),
    args: splitArgs(field(dv, argsAt, argsLen, end)),
    cwd: field(dv, cwdAt, cwdLen, end),
    filename: filenameLen ? field(dv, filenameAt, filenameLen, end) : undefined,
    ino: u64(dv, at + EX.ino),
    nlink: u32(dv, at + EX.nlink),
    secure: u32(dv, at + EX.secure),
    ns: namespaces(dv, at + EX.ns),
  };
}

/** The args' bytes follow the fixed part back to back; a short record keeps what it has. */
function decodeGeneric(dv: DataView, at: number, len: number): GenericRecord {
  const count = Math.min(dv.getUint8(at + GN.arg_count), L.vigil_limits.VIGIL_HOOK_ARGS_MAX);
  const end = at + len;
  const b = bytesOf(dv);
  let pos = at + L.vigil_msg_generic.sizeof;
  const args: GenericArg[] = [];
  for (let i = 0; i < count; i++) {
    const n = dv.getUint16(at + GN.arg_len + 2 * i, true);
    const take = Math.max(0, Math.min(n, end - pos));
    const from = dv.byteOffset + pos;
    args.push({ bytes: b.subarray(from, from + take), flags: dv.getUint8(at + GN.arg_flags + i) });
    pos += n;
  }
  return {
    op: 'generic',
    ktime: u64(dv, at + H.ktime),
    cpu: u32(dv, at + H.cpu),
    proc: processId(dv, at + GN.proc),
    tid: u32(dv, at + GN.tid),
    hookId: u32(dv, at + GN.hook_id),
    action: dv.getUint8(at + GN.action),
    selector: dv.getUint8(at + GN.selector),
    ret: dv.getBigInt64(at + GN.ret, true),
    args,
  };
}

const DECODERS: Record<number, Decoder> = {
  [OP.VIGIL_OP_EXEC]: decodeExec,
  [OP.VIGIL_OP_CLONE]: (dv, at) => ({
    op: 'clone',
    ktime: u64(dv, at + H.ktime),
    cpu: u32(dv, at + H.cpu),
    proc: processId(dv, at + CL.proc),
    parent: processId(dv, at + CL.parent),
    tid: u32(dv, at + CL.tid),
    flags: u32(dv, at + CL.flags),
  }),
  [OP.VIGIL_OP_EXIT]: (dv, at) => ({
    op: 'exit',
    ktime: u64(dv, at + H.ktime),
    cpu: u32(dv, at + H.cpu),
    proc: processId(dv, at + XT.proc),
    tid: u32(dv, at + XT.tid),
    code: u32(dv, at + XT.code),
  }),
  [OP.VIGIL_OP_GENERIC]: decodeGeneric,
};

/** Records with a variable part must at least hold their fixed part. */
const FIXED_SIZE: Record<number, number> = {
  [OP.VIGIL_OP_GENERIC]: L.vigil_msg_generic.sizeof,
};

export class RecordDecoder {
  readonly unknownOps = new Map<number, number>();
  readonly malformed = { count: 0 };

  /** Returns the record, or undefined for an unknown op or a short record (both counted). */
  decode(dv: DataView, at: number, len: number): KernelRecord | undefined {
    if (len < L.vigil_msg_header.sizeof) {
      this.malformed.count++;
      return undefined;
    }
    const op = dv.getUint8(at + H.op);
    const decoder = DECODERS[op];
    if (!decoder) {
      this.unknownOps.set(op, (this.unknownOps.get(op) ?? 0) + 1);
      return undefined;
    }
    if (len < (FIXED_SIZE[op] ?? 0)) {
      this.malformed.count++;
      return undefined;
    }
    return decoder(dv, at, len);
  }
}
