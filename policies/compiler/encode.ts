// Encodes a HookPlan for the generic hook programs (kprobes/include/generic.h).
//
// The kernel side reads two things, both little-endian:
//
// 1. rodata `vigil_hook`, a struct vigil_hook_config (kprobes/include/
//    generic_config.h; offsets from its BTF, layouts.generated.ts):
//
//    off size  field
//      0  u32  hook_id      assigned by the agent, copied into every record
//      4  u32  slot         the hook's counter slot (vigil_counters)
//                           (both written by bindHook() when the agent loads
//                           the hook; encodeHook() leaves them 0)
//      8  u8   nargs        args read (at most 8)
//      9  u8   nselectors   0: every call is posted
//     10  u8   syscall      1: args are the syscall's (pt_regs behind the
//                           wrapper for kprobe/fentry, args[] for tracepoints)
//     11  u8   fail_closed  1: spec.options fail-closed; a filter on an arg
//                           that could not be read (flagged error in the
//                           record) matches in selectors whose action signals
//                           or overrides; 0: it does not match
//                           (kprobes/include/generic_undecided.h)
//     12  u8   scoped       1: the policy is limited to pods (plan.scope): the
//                           program acts only when the task's cgroup v2, or an
//                           ancestor of it, is in the policy's map vigil_scope
//                           (u64 cgroup id -> u8 1; kprobes/include/scope.h),
//                           which the agent shares between the policy's hooks
//                           and fills as pods come and go; 0: every task
//     13  u8   file_modes   1: a FileType filter: path args also read their
//                           inode's i_mode (the cost is only theirs)
//     14  u8   substr       1: a SubString filter; 0: the verifier drops the
//                           search from the program
//     15       1 zero byte
//     16       args[8]      8 bytes each:
//               +0 u8  kind    1 int, 2 string, 3 fd, 4 file, 5 path, 6 linux_binprm, 7 dentry,
//                              8 data_loc (a tracepoint's __data_loc field, size 4),
//                              10 sock, 11 socket, 12 sockaddr, 13 skb (net-filter.ts),
//                              20 char_buf, 21 char_iovec, 22 cred, 30 bpf_attr, 31 bpf_prog,
//                              32 bpf_map, 33 perf_event, 34 user_namespace, 35 module,
//                              36 load_info, 37 net_device (kprobes/include/generic_kobj.h)
//               +1 u8  size    bytes of the raw value: 1, 2, 4 or 8
//               +2 u8  flags   1 signed, 2 user memory (strings, sockaddr), 4 tracepoint field,
//                              32 returnCopy (read at return), 64 maxData
//               +3 u8  index   function or syscall argument index
//               +4 u16 offset  tracepoint field offset (flag 4)
//               +6 u8  size_arg  buffers: 1 + the position in args of the size
//                              (char_iovec: count) arg; 0: the return value
//                              (char_buf with returnCopy)
//             A return probe (returnArg) has at most 7 args: args[nargs] is
//             the return value, index 0, and matchReturnArgs filter it.
//             Exec mechanisms (mechanism.ts; every arg is the exec's
//             filename, and syscall is 0): kind 6 linux_binprm, index 0
//             (security_bprm_check's bprm: the path of the file checked),
//             or for exec at sched_process_exec kind 2 string, kernel
//             memory, index 0 (the program hands the resolved path).
//     80       selectors[64] (a policy's hook uses at most 32; a hook group
//              holds its members' together: group.ts), 232 bytes each:
//               +0   u8 nargs, +1 u8 npids, +2 u8 nbins, +3 u8 ncaps,
//               +4   u16 ns_in, +6 u16 ns_notin: matchNamespaces, one bit
//                    per namespace type (0 Uts, 1 Ipc, 2 Mnt, 3 Pid,
//                    4 PidForChildren, 5 Net, 6 Time, 7 TimeForChildren,
//                    8 Cgroup, 9 User) whose inum must (not) be one of
//               +8   u16 ns_id's values in vigil_int_eq, keyed type << 32 | inum;
//                    all filters on one type fold into one set
//               +10  u16 ns_changes: matchNamespaceChanges, the types (In:
//                    those listed, NotIn: the others) of which one must
//                    differ from the process's at exec
//               +12  u8 member, +13 u8 local: in a hook group, the hook
//                    whose selector this is, and its index there (group.ts)
//               +16  arg filters[8], 16 bytes each:
//                      +0 u8 arg (position in args), +1 u8 op, +2 u16 id,
//                      +8 u64 value
//               +144 pid filters[4], 4 bytes each:
//                      +0 u8 op, +1 u8 flags (1 followForks, 2 namespace pid), +2 u16 id
//               +160 binary filters[4], 4 bytes each (matchBinaries, then
//                      matchParentBinaries): +0 u8 op, +1 u8 flags (0x80 the
//                      parent's binary, 0x40 followChildren, whose bit in the
//                      process entry's follow mask is the low 6 bits), +2 u16 id
//               +176 capability filters[2], 16 bytes each (matchCapabilities,
//                      then matchCapabilityChanges): +0 u8 set (0 permitted,
//                      1 effective, 2 inheritable), +1 u8 op (EQ In, NEQ
//                      NotIn), +2 u8 flags (1 isNamespaceCapability, 2 a
//                      change since exec), +8 u64 mask (1 << CAP_*)
//               +208 action, 24 bytes:
//                      +0 u8 action (1 post, 2 sigkill, 3 signal, 4 override),
//                      +1 u8 post (0: NoPost), +2 u8 signal (0: none),
//                      +3 u8 override, +4 s32 error, +8 u64 rate_ns (0: none),
//                      +16 u8 rate_scope (0 thread, 1 process, 2 global)
//  14928       hook groups only (group.ts; zero here): u8 nmembers, u8
//              gate_arg, u16 group_slot, u32 generation, u64 ungated, then
//              members[64] of u32 hook_id, u32 slot (the whole struct: 15456 bytes)
//
//    ops: 1 EQ (Equal, In), 2 NEQ (NotEqual, NotIn), 3 PREFIX, 4 NOT_PREFIX,
//         5 POSTFIX, 6 NOT_POSTFIX, 7 GT, 8 LT, 9 MASK, 10 IN_RANGE (InMap,
//         InRange), 11 NOT_IN_RANGE (NotInMap, NotInRange), 12 SUBSTR
//         (SubString), 13 SUBSTR_ICASE (SubStringIgnCase), 14 FILE_TYPE,
//         15 NOT_FILE_TYPE (file-class args: value has bit mode >> 12 of
//         each type: 1 fifo, 2 char, 4 dir, 6 block, 8 regular, 10 symlink,
//         12 socket); 20-34 on network
//         args, with their values in vigil_net_lpm or vigil_int_eq (net-filter.ts);
//         60 CAPS_GAINED (cred args: value is the capabilities' bit mask).
//    A selector's matchArgs then its matchReturnArgs share the 8 arg filters.
//    A filter matches when any of its values does, so one inline value
//    suffices for integer comparisons: GT keeps the smallest value, LT the
//    largest, Mask all masks ORed (two's complement, 8 bytes; signedness is
//    the arg's). Every other value list lives in a map under the filter's id.
//
// 2. The values, in four maps of the hook's object, and vigil_net_lpm for
//    network filters (net-filter.ts) and integer ranges (value u8 1):
//
//    vigil_int_eq       hash     key 16 bytes: u16 id, 6 zero bytes, u64 value
//                                (Equal/NotEqual on integers, sign-extended as
//                                the arg's type; matchPIDs, one key per pid)
//    vigil_str_eq       hash     key 260 bytes: u16 id, u16 len, char s[256]
//                                zero-padded (Equal/NotEqual on strings and
//                                paths, matchBinaries In/NotIn)
//    vigil_str_prefix   LPM trie key 264 bytes: u32 prefixlen = 8 * (4 + len),
//                                u32 id, the bytes, zero-padded (Prefix)
//    vigil_str_postfix  LPM trie the same, the bytes reversed (Postfix)
//    vigil_str_sub      hash     key u32 id, value struct vigil_substr_set
//                                (528 bytes): +0 u32 n values (at most 8),
//                                +4 u8 len[8], +16 u64 words[8][4] (each
//                                value's bytes zero-padded to 32, read as
//                                little-endian words), +272 u64 masks[8][4]
//                                (0xff per byte of the value, 0 past it);
//                                SubStringIgnCase values lowercased (ASCII)
//    vigil_net_lpm      LPM trie key 24 bytes (net-filter.ts); InMap and
//                                InRange values are kind 8: the integer as 8
//                                bytes big-endian (signed: sign bit flipped),
//                                a range as the fewest prefixes that cover it
//
//    Ids count from 1 per hook, one sequence for all map-backed filters,
//    up to 65535.
//
// Within a selector the filters AND; the first selector that matches acts.
// Its action byte is the strongest it takes: override > sigkill > signal >
// post. matchBinaries compares the first 256 bytes of the binary's path
// (its full length is known): a longer path never equals a value, and its
// Postfix is never known to match.
//
// followChildren bits are the agent's, shared by all hooks
// (agent/sensors/follow.ts): the process sensor sets a process's bit when
// it executes one of the filter's binaries, and forks inherit it. The
// encoder sets the filter's follow flag and records where its bit goes, one
// place per followChildren filter in order (followFilters in plan.ts);
// bindHook() writes the bits the agent gives.
import * as L from '../../kernel/abi/layouts.generated.js';
import { VigilError } from '../../kernel/errors.js';
import { CAPABILITIES } from '../../kernel/caps.js';
import {
  hookPath, isBufferType, isIntType, isNetType, KOBJ_ARG_TYPES, NAMESPACE_TYPES,
  type ActionPlan, type ArgFilter, type ArgPlan, type ArgType, type CapabilityFilter, type HookPlan, type NamespaceType, type SelectorPlan,
} from './plan.js';
import { hostNamespace } from '../../kernel/namespaces.js';
import { isNetOperator, netFilter, netKey } from './net-filter.js';
import { FILE_TYPES } from '../arg-types.js';
import { rangePrefixes } from '../../kernel/net/values.js';
import type { ExecFile, MechanismChoice } from './mechanism.js';
import type { TracepointField } from '../../kernel/tracefs.js';

export type { TracepointField };

const C = L.vigil_config_limits;
const K = L.vigil_arg_kind;
const S = L.vigil_arg_source_flag;
const OP = L.vigil_filter_op;
const ACT = L.vigil_action;
const HC = L.vigil_hook_config;
const AC = L.vigil_arg_config;
const SEL = L.vigil_selector;
const AF = L.vigil_arg_filter;
const PF = L.vigil_pid_filter;
const BF = L.vigil_bin_filter;
const SA = L.vigil_selector_action;
const BFL = L.vigil_bin_flag;

export interface MapEntry {
  key: Buffer;
  value: Buffer;
}

export interface EncodedHook {
  /** The bytes of rodata `vigil_hook`, but for what bindHook() writes. */
  config: Buffer;
  /** Offsets of the flags byte of each followChildren filter, in followFilters(plan) order. */
  follow: number[];
  /** vigil_int_eq, vigil_str_eq, vigil_str_prefix, vigil_str_postfix, vigil_str_sub. */
  intEq: MapEntry[];
  eq: MapEntry[];
  prefix: MapEntry[];
  postfix: MapEntry[];
  sub: MapEntry[];
  /** vigil_net_lpm: address and port filters (net-filter.ts). */
  net: MapEntry[];
}

/** The next map-backed filter id of a hook. */
interface Ids {
  next: number;
}

export interface EncodeContext {
  choice: Pick<MechanismChoice, 'mechanism' | 'syscall' | 'execFile'>;
  /** Tracepoint hooks (not syscall fallbacks): the event's format fields, by index. */
  fields?: TracepointField[];
  /** host_ns in matchNamespaces: the inode number of the host's namespace of a type (default: /proc/1/ns). */
  hostNs?: (type: NamespaceType) => number;
}

/** What the agent assigns when it loads a hook. */
export interface HookIdentity {
  hookId: number;
  slot: number;
  /** The followChildren bit of each followChildren filter, in followFilters(plan) order. */
  followBits?: number[];
}

/** The rodata bytes of an encoded hook with the agent's ids written in. */
export function bindHook(e: EncodedHook, id: HookIdentity): Buffer {
  const b = Buffer.from(e.config);
  b.writeUInt32LE(id.hookId, HC.offsetof.hook_id);
  b.writeUInt32LE(id.slot, HC.offsetof.slot);
  const bits = id.followBits ?? [];
  if (bits.length !== e.follow.length) throw new VigilError('VIGIL_INTERNAL', `${e.follow.length} followChildren filters, ${bits.length} bits given`);
  e.follow.forEach((at, i) => {
    const bit = bits[i];
    if (!Number.isInteger(bit) || bit < 0 || bit > BFL.VIGIL_BIN_FOLLOW_BIT) throw new VigilError('VIGIL_INTERNAL', `followChildren bit ${bit} is out of range`);
    b.writeUInt8(b.readUInt8(at) | bit, at);
  });
  return b;
}

const invalid = (where: string, what: string): VigilError => new VigilError('VIGIL_POLICY_INVALID', what, { field: where });
const unsupported = (where: string, what: string): VigilError => new VigilError('VIGIL_NOT_SUPPORTED', what, { field: where });

const INT_SIZE: Record<string, number> = {
  int8: 1, uint8: 1, int16: 2, uint16: 2, int: 4, int32: 4, uint32: 4, int64: 8, uint64: 8, size_t: 8,
  capability: 4, kernel_cap_t: 8, cap_inheritable: 8, cap_permitted: 8, cap_effective: 8, syscall64: 8, bpf_cmd: 4,
};
const SIGNED = new Set(['int', 'int8', 'int16', 'int32', 'int64', 'capability']);
const KIND: Record<string, number> = {
  string: K.VIGIL_ARG_STRING, data_loc: K.VIGIL_ARG_DATA_LOC, fd: K.VIGIL_ARG_FD, file: K.VIGIL_ARG_FILE, path: K.VIGIL_ARG_PATH, dentry: K.VIGIL_ARG_DENTRY, linux_binprm: K.VIGIL_ARG_BINPRM,
  char_buf: K.VIGIL_ARG_CHAR_BUF, char_iovec: K.VIGIL_ARG_CHAR_IOVEC, cred: K.VIGIL_ARG_CRED,
  sock: K.VIGIL_ARG_SOCK, socket: K.VIGIL_ARG_SOCKET, sockaddr: K.VIGIL_ARG_SOCKADDR, skb: K.VIGIL_ARG_SKB,
  bpf_attr: K.VIGIL_ARG_BPF_ATTR, bpf_prog: K.VIGIL_ARG_BPF_PROG, bpf_map: K.VIGIL_ARG_BPF_MAP, perf_event: K.VIGIL_ARG_PERF_EVENT,
  user_namespace: K.VIGIL_ARG_USERNS, module: K.VIGIL_ARG_MODULE, load_info: K.VIGIL_ARG_LOAD_INFO, net_device: K.VIGIL_ARG_NET_DEVICE,
};
const ARG_OPS: Record<string, number> = {
  Equal: OP.VIGIL_FOP_EQ, NotEqual: OP.VIGIL_FOP_NEQ, Prefix: OP.VIGIL_FOP_PREFIX, NotPrefix: OP.VIGIL_FOP_NOT_PREFIX,
  Postfix: OP.VIGIL_FOP_POSTFIX, NotPostfix: OP.VIGIL_FOP_NOT_POSTFIX, GT: OP.VIGIL_FOP_GT, LT: OP.VIGIL_FOP_LT, Mask: OP.VIGIL_FOP_MASK,
  InMap: OP.VIGIL_FOP_IN_RANGE, NotInMap: OP.VIGIL_FOP_NOT_IN_RANGE, InRange: OP.VIGIL_FOP_IN_RANGE, NotInRange: OP.VIGIL_FOP_NOT_IN_RANGE,
  SubString: OP.VIGIL_FOP_SUBSTR, SubStringIgnCase: OP.VIGIL_FOP_SUBSTR_ICASE,
  FileType: OP.VIGIL_FOP_FILE_TYPE, NotFileType: OP.VIGIL_FOP_NOT_FILE_TYPE,
  CapabilitiesGained: OP.VIGIL_FOP_CAPS_GAINED,
};
const BIN_OPS: Record<string, number> = {
  In: OP.VIGIL_FOP_EQ, NotIn: OP.VIGIL_FOP_NEQ, Prefix: OP.VIGIL_FOP_PREFIX, NotPrefix: OP.VIGIL_FOP_NOT_PREFIX,
  Postfix: OP.VIGIL_FOP_POSTFIX, NotPostfix: OP.VIGIL_FOP_NOT_POSTFIX,
};
/** Types that point into kernel memory, which no user-space function receives. */
const KERNEL_OBJECTS = new Set(['file', 'path', 'dentry', 'linux_binprm', 'cred', 'sock', 'socket', 'skb', ...KOBJ_ARG_TYPES]);
const INT_ONLY = new Set(['GT', 'LT', 'Mask', 'InMap', 'NotInMap', 'InRange', 'NotInRange']);
const STRING_ONLY = new Set(['Prefix', 'NotPrefix', 'Postfix', 'NotPostfix', 'SubString', 'SubStringIgnCase']);

function limit(where: string, what: string, n: number, max: number): void {
  if (n > max) throw invalid(where, `${n} ${what}, at most ${max}`);
}

export function encodeHook(plan: HookPlan, ctx: EncodeContext): EncodedHook {
  const where = hookPath(plan);
  const out: EncodedHook = { config: Buffer.alloc(HC.sizeof), follow: [], intEq: [], eq: [], prefix: [], postfix: [], sub: [], net: [] };
  const b = out.config;
  const ret = plan.returnArg;
  limit(where, ret ? 'args with a returnArg' : 'args', plan.args.length, L.vigil_limits.VIGIL_HOOK_ARGS_MAX - (ret ? 1 : 0));
  limit(where, 'selectors', plan.selectors.length, C.VIGIL_HOOK_SELECTORS_MAX);
  b.writeUInt8(plan.args.length, HC.offsetof.nargs);
  b.writeUInt8(plan.selectors.length, HC.offsetof.nselectors);
  b.writeUInt8(ctx.choice.syscall ? 1 : 0, HC.offsetof.syscall);
  b.writeUInt8(plan.failClosed ? 1 : 0, HC.offsetof.fail_closed);
  b.writeUInt8(plan.scope ? 1 : 0, HC.offsetof.scoped);
  plan.args.forEach((a, i) => encodeArg(b, HC.offsetof.args + i * AC.sizeof, a, plan, ctx, `${where}.args[${i}]`));
  if (ret) encodeReturnArg(b, HC.offsetof.args + plan.args.length * AC.sizeof, ret, `${where}.returnArg`);
  const ids: Ids = { next: 1 };
  const hostNs = ctx.hostNs ?? hostNamespace;
  plan.selectors.forEach((s, i) => {
    const at = HC.offsetof.selectors + i * SEL.sizeof;
    const w = `${where}.selectors[${i}]`;
    encodeSelector(out, at, s, plan, ids, w);
    encodeNamespaces(out, at, s, ids, hostNs, w);
    encodeCapabilities(out.config, at, s, w);
  });
  return out;
}

/** An exec mechanism's filename arg (mechanism.ts checked it is the only arg, a string). */
function encodeExecArg(b: Buffer, at: number, file: ExecFile): void {
  b.writeUInt8(file === 'binprm' ? K.VIGIL_ARG_BINPRM : K.VIGIL_ARG_STRING, at + AC.offsetof.kind);
  b.writeUInt8(8, at + AC.offsetof.size);
}

function encodeArg(b: Buffer, at: number, a: ArgPlan, plan: HookPlan, ctx: EncodeContext, where: string): void {
  if (ctx.choice.execFile) return encodeExecArg(b, at, ctx.choice.execFile);
  const int = isIntType(a.type);
  let size = int ? INT_SIZE[a.type] : 8;
  let flags = int && SIGNED.has(a.type) ? S.VIGIL_SRC_SIGNED : 0;
  let offset = 0;
  // A uprobe's pointers are the task's own memory, as a syscall's are.
  const userStrings = ctx.choice.syscall || plan.kind === 'uprobe' || (plan.kind === 'tracepoint' && plan.target.subsystem === 'syscalls');
  if (plan.kind === 'uprobe' && KERNEL_OBJECTS.has(a.type)) {
    throw unsupported(where, `type ${a.type} names a kernel object, and a uprobe's args are the process's own values and memory; use an integer type, string, char_buf, fd or sockaddr`);
  }
  if ((a.type === 'string' || a.type === 'sockaddr') && userStrings) flags |= S.VIGIL_SRC_USER;
  if (ctx.choice.mechanism === 'tracepoint' && !ctx.choice.syscall) {
    const f = ctx.fields?.[a.index];
    if (!f) throw invalid(where, `index ${a.index}: the tracepoint has ${ctx.fields?.length ?? 0} fields`);
    const dataLoc = f.type.startsWith('__data_loc');
    if (dataLoc && a.type !== 'data_loc') throw invalid(where, `field ${f.name} is ${f.type}: read it as type data_loc`);
    if (!dataLoc && a.type === 'data_loc') throw invalid(where, `type data_loc needs a __data_loc field, and ${f.name} is ${f.type}`);
    if (!int && !dataLoc && !f.type.includes('*')) throw invalid(where, `type ${a.type} needs a pointer field, and ${f.name} is ${f.type}`);
    flags |= S.VIGIL_SRC_CTX_FIELD;
    offset = f.offset;
    // The low bytes of a wider little-endian field, as the policy's type reads them.
    if (int) size = Math.min(f.size, INT_SIZE[a.type]);
    if (dataLoc) size = 4;
  } else if (a.type === 'data_loc') {
    throw invalid(where, 'type data_loc reads a __data_loc field of a tracepoint, and this hook is not one');
  } else if (a.index > 5) {
    throw invalid(where, `index ${a.index}: Vigil reads the first 6 arguments of functions and syscalls`);
  }
  if (isBufferType(a.type)) {
    const buf = bufferConfig(a, plan, where);
    flags |= buf.flags;
    b.writeUInt8(buf.sizeArg, at + AC.offsetof.size_arg);
  } else if (a.returnCopy) {
    throw invalid(where, `returnCopy applies to char_buf and char_iovec args, not ${a.type}`);
  }
  b.writeUInt8(int ? K.VIGIL_ARG_INT : KIND[a.type], at + AC.offsetof.kind);
  b.writeUInt8(size, at + AC.offsetof.size);
  b.writeUInt8(flags, at + AC.offsetof.flags);
  b.writeUInt8(ctx.choice.mechanism === 'tracepoint' && !ctx.choice.syscall ? 0 : a.index, at + AC.offsetof.index);
  b.writeUInt16LE(offset, at + AC.offsetof.offset);
}

/** A buffer's flags and size_arg: where its size comes from. */
function bufferConfig(a: ArgPlan, plan: HookPlan, where: string): { flags: number; sizeArg: number } {
  let flags = a.maxData ? S.VIGIL_SRC_MAX_DATA : 0;
  if (a.returnCopy) {
    if (!plan.returnArg) throw invalid(where, 'returnCopy reads the buffer at return, and the hook is not a return probe (return: true with a returnArg)');
    flags |= S.VIGIL_SRC_RETURN_COPY;
  }
  if (a.sizeArgIndex === undefined || a.sizeArgIndex === 0) {
    if (a.type === 'char_buf' && a.returnCopy) return { flags, sizeArg: 0 }; // the return value: the bytes the callee filled
    throw invalid(where, `${a.type} needs sizeArgIndex, the index of its ${a.type === 'char_iovec' ? 'count' : 'size'} arg plus one${a.type === 'char_buf' ? ' (or returnCopy, where the return value is the size)' : ''}`);
  }
  const pos = plan.args.findIndex((x) => x.index === a.sizeArgIndex! - 1);
  if (pos < 0) throw invalid(where, `sizeArgIndex ${a.sizeArgIndex} names arg index ${a.sizeArgIndex - 1}, which the hook does not declare; add it to args`);
  if (!isIntType(plan.args[pos].type)) throw invalid(where, `sizeArgIndex ${a.sizeArgIndex} names arg index ${a.sizeArgIndex - 1}, a ${plan.args[pos].type}, not an integer`);
  return { flags, sizeArg: pos + 1 };
}

/** The return value, read by the same kind readers as args, at position nargs. */
function encodeReturnArg(b: Buffer, at: number, a: ArgPlan, where: string): void {
  if (isBufferType(a.type)) throw unsupported(where, `a ${a.type} return value has no size; Vigil reads integers, strings, files, fds, paths and creds there`);
  const int = isIntType(a.type);
  b.writeUInt8(int ? K.VIGIL_ARG_INT : KIND[a.type], at + AC.offsetof.kind);
  b.writeUInt8(int ? INT_SIZE[a.type] : 8, at + AC.offsetof.size);
  b.writeUInt8(int && SIGNED.has(a.type) ? S.VIGIL_SRC_SIGNED : 0, at + AC.offsetof.flags);
}

function encodeSelector(out: EncodedHook, at: number, s: SelectorPlan, plan: HookPlan, ids: Ids, where: string): void {
  const b = out.config;
  const ret = s.matchReturnArgs ?? [];
  if (ret.length && !plan.returnArg) throw invalid(`${where}.matchReturnArgs`, 'matchReturnArgs needs a return probe (return: true with a returnArg)');
  limit(where, ret.length ? 'matchArgs and matchReturnArgs' : 'matchArgs', s.matchArgs.length + ret.length, C.VIGIL_SEL_ARGS_MAX);
  limit(where, 'matchPIDs', s.matchPIDs.length, C.VIGIL_SEL_PIDS_MAX);
  const parents = s.matchParentBinaries ?? [];
  limit(where, parents.length ? 'matchBinaries and matchParentBinaries' : 'matchBinaries', s.matchBinaries.length + parents.length, C.VIGIL_SEL_BINS_MAX);
  b.writeUInt8(s.matchArgs.length + ret.length, at + SEL.offsetof.nargs);
  b.writeUInt8(s.matchPIDs.length, at + SEL.offsetof.npids);
  b.writeUInt8(s.matchBinaries.length + parents.length, at + SEL.offsetof.nbins);

  s.matchArgs.forEach((f, i) => encodeArgFilter(out, at + SEL.offsetof.args + i * AF.sizeof, f, plan, ids, `${where}.matchArgs[${i}]`));
  ret.forEach((f, i) => {
    const w = `${where}.matchReturnArgs[${i}]`;
    encodeArgFilter(out, at + SEL.offsetof.args + (s.matchArgs.length + i) * AF.sizeof, f, plan, ids, w, { pos: plan.args.length, type: plan.returnArg!.type });
  });
  s.matchPIDs.forEach((f, i) => {
    const w = `${where}.matchPIDs[${i}]`;
    const p = at + SEL.offsetof.pids + i * PF.sizeof;
    b.writeUInt8(f.operator === 'In' ? OP.VIGIL_FOP_EQ : OP.VIGIL_FOP_NEQ, p + PF.offsetof.op);
    b.writeUInt8((f.followForks ? L.vigil_pid_flag.VIGIL_PID_FOLLOW_FORKS : 0) | (f.isNamespacePID ? L.vigil_pid_flag.VIGIL_PID_NAMESPACE : 0), p + PF.offsetof.flags);
    b.writeUInt16LE(intValues(out, f.values.map((v) => BigInt(v >>> 0)), ids, w), p + PF.offsetof.id);
  });
  const bins = [
    ...s.matchBinaries.map((f, i) => ({ f, parent: false, w: `${where}.matchBinaries[${i}]` })),
    ...parents.map((f, i) => ({ f, parent: true, w: `${where}.matchParentBinaries[${i}]` })),
  ];
  bins.forEach(({ f, parent, w }, i) => {
    const op = BIN_OPS[f.operator];
    if (!op) throw invalid(w, `operator ${f.operator} is not supported`);
    let flags = parent ? BFL.VIGIL_BIN_PARENT : 0;
    const p = at + SEL.offsetof.bins + i * BF.sizeof;
    if (f.followChildren) {
      if (parent) throw unsupported(w, `followChildren on matchParentBinaries is not supported`);
      if (f.operator !== 'In') throw invalid(w, `followChildren works only with operator In, not ${f.operator}`);
      flags |= BFL.VIGIL_BIN_FOLLOW;
      out.follow.push(p + BF.offsetof.flags);
    }
    b.writeUInt8(op, p + BF.offsetof.op);
    b.writeUInt8(flags, p + BF.offsetof.flags);
    b.writeUInt16LE(stringValues(out, op, f.values, ids, w), p + BF.offsetof.id);
  });
  encodeAction(b, at + SEL.offsetof.act, s.matchActions, plan, `${where}.matchActions`);
}

/** matchNamespaces and matchNamespaceChanges into the selector's ns_* fields. */
function encodeNamespaces(out: EncodedHook, at: number, s: SelectorPlan, ids: Ids, hostNs: (t: NamespaceType) => number, where: string): void {
  const b = out.config;
  // Per type: the values it must be one of (In, intersected), and those it must not be (NotIn, united).
  const sets = new Map<NamespaceType, { in?: Set<number>; out: Set<number> }>();
  (s.matchNamespaces ?? []).forEach((f, i) => {
    const w = `${where}.matchNamespaces[${i}]`;
    if (!NAMESPACE_TYPES.includes(f.namespace)) throw invalid(w, `unknown namespace ${f.namespace}`);
    if (!f.values.length) throw invalid(w, 'needs at least one value');
    const values = new Set(f.values.map((v, j) => {
      if (v === 'host_ns') return hostNs(f.namespace);
      if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw invalid(`${w}.values[${j}]`, `${JSON.stringify(v)} is neither a namespace inode number nor host_ns`);
      return Number(v);
    }));
    const set = sets.get(f.namespace) ?? { out: new Set<number>() };
    if (f.operator === 'In') set.in = set.in ? new Set([...set.in].filter((v) => values.has(v))) : values;
    else for (const v of values) set.out.add(v);
    sets.set(f.namespace, set);
  });
  let nsIn = 0;
  let nsNotIn = 0;
  if (sets.size) {
    const id = nextId(ids, `${where}.matchNamespaces`);
    for (const [type, set] of sets) {
      const t = NAMESPACE_TYPES.indexOf(type);
      const values = set.in ? [...set.in].filter((v) => !set.out.has(v)) : [...set.out];
      if (set.in) nsIn |= 1 << t;
      else nsNotIn |= 1 << t;
      for (const v of values) out.intEq.push({ key: intKey(id, (BigInt(t) << 32n) | BigInt(v)), value: Buffer.from([1]) });
    }
    b.writeUInt16LE(id, at + SEL.offsetof.ns_id);
  }
  b.writeUInt16LE(nsIn, at + SEL.offsetof.ns_in);
  b.writeUInt16LE(nsNotIn, at + SEL.offsetof.ns_notin);

  const changes = s.matchNamespaceChanges ?? [];
  if (changes.length > 1) throw invalid(`${where}.matchNamespaceChanges`, 'a selector takes one matchNamespaceChanges filter');
  if (changes.length) {
    const f = changes[0];
    const w = `${where}.matchNamespaceChanges[0]`;
    const listed = f.values.reduce((m, v, j) => {
      const t = NAMESPACE_TYPES.indexOf(v);
      if (t < 0) throw invalid(`${w}.values[${j}]`, `unknown namespace ${JSON.stringify(v)}`);
      return m | (1 << t);
    }, 0);
    const mask = f.operator === 'In' ? listed : ~listed & ((1 << NAMESPACE_TYPES.length) - 1);
    if (!mask) throw invalid(w, `${f.operator} ${f.values.join(', ')} leaves no namespace to watch`);
    b.writeUInt16LE(mask, at + SEL.offsetof.ns_changes);
  }
}

const CAP_SETS: Record<CapabilityFilter['type'], number> = {
  Permitted: L.vigil_cap_set.VIGIL_CAP_PERMITTED, Effective: L.vigil_cap_set.VIGIL_CAP_EFFECTIVE, Inheritable: L.vigil_cap_set.VIGIL_CAP_INHERITABLE,
};

/** matchCapabilities then matchCapabilityChanges into the selector's capability filters. */
function encodeCapabilities(b: Buffer, at: number, s: SelectorPlan, where: string): void {
  const CF = L.vigil_cap_filter;
  const all = [
    ...(s.matchCapabilities ?? []).map((f, i) => ({ f, changes: false, w: `${where}.matchCapabilities[${i}]` })),
    ...(s.matchCapabilityChanges ?? []).map((f, i) => ({ f, changes: true, w: `${where}.matchCapabilityChanges[${i}]` })),
  ];
  limit(where, 'matchCapabilities and matchCapabilityChanges', all.length, C.VIGIL_SEL_CAPS_MAX);
  b.writeUInt8(all.length, at + SEL.offsetof.ncaps);
  all.forEach(({ f, changes, w }, i) => {
    const p = at + SEL.offsetof.caps + i * CF.sizeof;
    const set = CAP_SETS[f.type];
    if (set === undefined) throw invalid(w, `unknown capability set ${f.type}`);
    if (!f.values.length) throw invalid(w, 'needs at least one capability');
    b.writeUInt8(set, p + CF.offsetof.set);
    b.writeUInt8(f.operator === 'In' ? OP.VIGIL_FOP_EQ : OP.VIGIL_FOP_NEQ, p + CF.offsetof.op);
    b.writeUInt8((f.isNamespaceCapability ? L.vigil_cap_flag.VIGIL_CAP_NAMESPACE : 0) | (changes ? L.vigil_cap_flag.VIGIL_CAP_CHANGES : 0), p + CF.offsetof.flags);
    b.writeBigUInt64LE(capMask(f.values, w), p + CF.offsetof.mask);
  });
}

/** ret: a matchReturnArgs filter, on the return value at args position pos. */
function encodeArgFilter(out: EncodedHook, at: number, f: ArgFilter, plan: HookPlan, ids: Ids, where: string, ret?: { pos: number; type: ArgType }): void {
  const b = out.config;
  const pos = ret ? ret.pos : plan.args.findIndex((a) => a.index === f.index);
  if (pos < 0) throw invalid(where, `index ${f.index} is not one of the hook's args (${plan.args.map((a) => a.index).join(', ') || 'none'})`);
  const type: ArgType = ret ? ret.type : plan.args[pos].type;
  if (isNetType(type) || isNetOperator(f.operator)) {
    const n = netFilter(f.operator, type, f.values, where);
    b.writeUInt8(pos, at + AF.offsetof.arg);
    b.writeUInt8(n.op, at + AF.offsetof.op);
    let id = 0;
    if (n.ints) id = intValues(out, n.ints, ids, where);
    if (n.lpmKeys) {
      id = nextId(ids, where);
      for (const key of n.lpmKeys(id)) out.net.push({ key, value: Buffer.from([1]) });
    }
    b.writeUInt16LE(id, at + AF.offsetof.id);
    return;
  }
  const op = ARG_OPS[f.operator];
  if (!op) throw invalid(where, `operator ${f.operator} is not supported`);
  const substr = op === OP.VIGIL_FOP_SUBSTR || op === OP.VIGIL_FOP_SUBSTR_ICASE;
  if (isBufferType(type) && !(substr && type === 'char_buf')) {
    throw unsupported(where, `filters on ${type} args other than SubString and SubStringIgnCase on char_buf are not evaluated by Vigil's kernel programs yet`);
  }
  if (isBufferType(type) && !ret && plan.args[pos].returnCopy) {
    throw unsupported(where, `a returnCopy ${type} is read at return, after matchArgs are evaluated`);
  }
  if ((type === 'cred') !== (op === OP.VIGIL_FOP_CAPS_GAINED)) {
    throw invalid(where, type === 'cred' ? `a cred arg takes only CapabilitiesGained, not ${f.operator}` : `CapabilitiesGained compares credentials, and the arg is ${type}`);
  }
  if (op === OP.VIGIL_FOP_CAPS_GAINED) {
    b.writeUInt8(pos, at + AF.offsetof.arg);
    b.writeUInt8(op, at + AF.offsetof.op);
    if (!f.values.length) throw invalid(where, 'CapabilitiesGained needs at least one capability');
    b.writeBigUInt64LE(capMask(f.values, where), at + AF.offsetof.value);
    return;
  }
  if (op === OP.VIGIL_FOP_FILE_TYPE || op === OP.VIGIL_FOP_NOT_FILE_TYPE) {
    if (!FILE_ARGS.has(type)) throw invalid(where, `${f.operator} reads a file's type, and arg ${f.index} is ${type}`);
    if (!f.values.length) throw invalid(where, `${f.operator} needs at least one file type`);
    b.writeUInt8(pos, at + AF.offsetof.arg);
    b.writeUInt8(op, at + AF.offsetof.op);
    b.writeBigUInt64LE(fileTypeMask(f.values, where), at + AF.offsetof.value);
    b.writeUInt8(1, HC.offsetof.file_modes);
    return;
  }
  const int = isIntType(type);
  if (int && STRING_ONLY.has(f.operator)) throw invalid(where, `${f.operator} compares strings, and arg ${f.index} is ${type}`);
  if (!int && INT_ONLY.has(f.operator)) throw invalid(where, `${f.operator} compares integers, and arg ${f.index} is ${type}`);
  b.writeUInt8(pos, at + AF.offsetof.arg);
  b.writeUInt8(op, at + AF.offsetof.op);
  if (!f.values.length) throw invalid(where, `${f.operator} needs at least one value`);
  if (op === OP.VIGIL_FOP_IN_RANGE || op === OP.VIGIL_FOP_NOT_IN_RANGE) {
    b.writeUInt16LE(intRanges(out, f.values, type, ids, where), at + AF.offsetof.id);
  } else if (int) {
    const values = f.values.map((v, j) => intValue(v, type, `${where}.values[${j}]`));
    if (op === OP.VIGIL_FOP_EQ || op === OP.VIGIL_FOP_NEQ) {
      b.writeUInt16LE(intValues(out, values, ids, where), at + AF.offsetof.id);
    } else {
      b.writeBigUInt64LE(oneValue(op, values, SIGNED.has(type)), at + AF.offsetof.value);
    }
  } else if (op === OP.VIGIL_FOP_SUBSTR || op === OP.VIGIL_FOP_SUBSTR_ICASE) {
    const id = nextId(ids, where);
    out.sub.push({ key: substrKey(id), value: substrSet(f.values, op === OP.VIGIL_FOP_SUBSTR_ICASE, where) });
    b.writeUInt8(1, HC.offsetof.substr);
    b.writeUInt16LE(id, at + AF.offsetof.id);
  } else {
    b.writeUInt16LE(stringValues(out, op, f.values, ids, where), at + AF.offsetof.id);
  }
}

export function substrKey(id: number): Buffer {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(id);
  return k;
}

/** A SubString filter's values as struct vigil_substr_set; icase: lowercased (ASCII only, as the kernel folds). */
export function substrSet(values: string[], icase: boolean, where: string): Buffer {
  const SS = L.vigil_substr_set;
  const words = C.VIGIL_SUBSTR_WORDS;
  limit(where, 'SubString values', values.length, C.VIGIL_SUBSTR_VALUES_MAX);
  const b = Buffer.alloc(SS.sizeof);
  b.writeUInt32LE(values.length, SS.offsetof.n);
  values.forEach((v, j) => {
    const w = `${where}.values[${j}]`;
    const bytes = Buffer.from(icase ? v.replace(/[A-Z]/g, (c) => c.toLowerCase()) : v);
    if (!bytes.length) throw invalid(w, 'an empty SubString value would match every string');
    limit(w, `bytes in ${JSON.stringify(v)}`, bytes.length, C.VIGIL_SUBSTR_LEN_MAX);
    b.writeUInt8(bytes.length, SS.offsetof.len + j);
    bytes.copy(b, SS.offsetof.words + j * words * 8);
    b.fill(0xff, SS.offsetof.masks + j * words * 8, SS.offsetof.masks + j * words * 8 + bytes.length);
  });
  return b;
}

const FILE_ARGS = new Set(['fd', 'file', 'path', 'dentry', 'linux_binprm']);

/** File type names as one bit mask, bit i for i_mode >> 12 == i. */
export function fileTypeMask(values: string[], where: string): bigint {
  return values.reduce((mask, v, j) => {
    const t = FILE_TYPES[v];
    if (t === undefined) throw invalid(`${where}.values[${j}]`, `${JSON.stringify(v)} is not a file type (${Object.keys(FILE_TYPES).join(', ')})`);
    return mask | (1n << BigInt(t));
  }, 0n);
}

/** Capability names (CAP_SYS_ADMIN) or numbers as one bit mask. */
export function capMask(values: string[], where: string): bigint {
  return values.reduce((mask, v, j) => {
    const bit = /^\d+$/.test(v) ? Number(v) : CAPABILITIES.indexOf(v);
    if (bit < 0 || bit > 63) throw invalid(`${where}.values[${j}]`, `${JSON.stringify(v)} is not a capability`);
    return mask | (1n << BigInt(bit));
  }, 0n);
}

/** The one value that stands for "any of values": GT the smallest, LT the largest, Mask the union. */
function oneValue(op: number, values: bigint[], signed: boolean): bigint {
  const order = (v: bigint): bigint => (signed ? BigInt.asIntN(64, v) : v);
  const sorted = [...values].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  if (op === OP.VIGIL_FOP_GT) return sorted[0];
  if (op === OP.VIGIL_FOP_LT) return sorted[sorted.length - 1];
  return values.reduce((a, v) => a | v, 0n);
}

function nextId(ids: Ids, where: string): number {
  const id = ids.next++;
  if (id > 0xffff) throw invalid(where, 'more than 65535 map-backed filters in one hook');
  return id;
}

/** Adds integers (as 64-bit patterns) to the integer map under a new filter id; returns the id. */
function intValues(out: EncodedHook, values: bigint[], ids: Ids, where: string): number {
  const id = nextId(ids, where);
  for (const v of values) out.intEq.push({ key: intKey(id, v), value: Buffer.from([1]) });
  return id;
}

/** InMap / InRange values ("5" or "1:9") as prefixes in vigil_net_lpm under a new filter id; returns the id. */
function intRanges(out: EncodedHook, values: string[], type: ArgType, ids: Ids, where: string): number {
  const id = nextId(ids, where);
  const flip = SIGNED.has(type) ? 1n << 63n : 0n; // signed: keep the order in unsigned keys
  values.forEach((v, j) => {
    const w = `${where}.values[${j}]`;
    const [lo, hi = lo] = v.split(':').map((x) => BigInt.asIntN(64, intValue(x, type, w)));
    const key = (x: bigint): bigint => BigInt.asUintN(64, x) ^ flip;
    if (key(lo) > key(hi)) throw invalid(w, `range ${v} is empty`);
    for (const [p, bits] of rangePrefixes(key(lo), key(hi), 64)) {
      const bytes = Buffer.alloc(8);
      bytes.writeBigUInt64BE(p);
      out.net.push({ key: netKey(id, L.vigil_net_key_kind.VIGIL_NET_KEY_INT, bytes, bits), value: Buffer.from([1]) });
    }
  });
  return id;
}

export function intKey(id: number, value: bigint): Buffer {
  const K = L.vigil_int_key;
  const k = Buffer.alloc(K.sizeof);
  k.writeUInt16LE(id, K.offsetof.id);
  k.writeBigUInt64LE(BigInt.asUintN(64, value), K.offsetof.value);
  return k;
}

/** An integer value as the kernel holds it: truncated to the type and sign-extended, as 64 bits. */
function intValue(v: string, type: ArgType, where: string): bigint {
  let n: bigint;
  try {
    n = BigInt(v.trim());
  } catch {
    throw invalid(where, `${JSON.stringify(v)} is not an integer`);
  }
  const bits = 8 * INT_SIZE[type];
  const fits = SIGNED.has(type) ? n >= -(1n << BigInt(bits - 1)) && n < 1n << BigInt(bits) : n >= 0n && n < 1n << BigInt(bits);
  if (!fits) throw invalid(where, `${v} does not fit ${type}`);
  const t = SIGNED.has(type) ? BigInt.asIntN(bits, n) : BigInt.asUintN(bits, n);
  return BigInt.asUintN(64, t);
}

/** Adds the values to the string maps under a new filter id; returns the id. */
function stringValues(out: EncodedHook, op: number, values: string[], ids: Ids, where: string): number {
  const hashed = op === OP.VIGIL_FOP_EQ || op === OP.VIGIL_FOP_NEQ;
  const id = nextId(ids, where);
  const one = Buffer.from([1]);
  for (const v of values) {
    const bytes = Buffer.from(v);
    if (hashed) {
      limit(where, `bytes in ${JSON.stringify(v)}`, bytes.length, C.VIGIL_STRING_KEY_MAX);
      out.eq.push({ key: stringKey(id, bytes), value: one });
    } else {
      limit(where, `bytes in ${JSON.stringify(v)}`, bytes.length, C.VIGIL_LPM_DATA_MAX);
      const reversed = op === OP.VIGIL_FOP_POSTFIX || op === OP.VIGIL_FOP_NOT_POSTFIX;
      (reversed ? out.postfix : out.prefix).push({ key: lpmKey(id, reversed ? Buffer.from(bytes).reverse() : bytes), value: one });
    }
  }
  return id;
}

export function stringKey(id: number, bytes: Buffer): Buffer {
  const K = L.vigil_string_key;
  const k = Buffer.alloc(K.sizeof);
  k.writeUInt16LE(id, K.offsetof.id);
  k.writeUInt16LE(bytes.length, K.offsetof.len);
  bytes.copy(k, K.offsetof.s);
  return k;
}

export function lpmKey(id: number, bytes: Buffer): Buffer {
  const K = L.vigil_lpm_key;
  const k = Buffer.alloc(K.sizeof);
  k.writeUInt32LE(8 * (4 + bytes.length), K.offsetof.prefixlen);
  k.writeUInt32LE(id, K.offsetof.id);
  bytes.copy(k, K.offsetof.data);
  return k;
}

const DURATION = /^(\d+)(ms|s|m|h)?$/;
const RATE_SCOPES: Record<string, number> = {
  thread: L.vigil_rate_scope.VIGIL_RATE_THREAD, process: L.vigil_rate_scope.VIGIL_RATE_PROCESS, global: L.vigil_rate_scope.VIGIL_RATE_GLOBAL,
};
const UNIT_NS: Record<string, bigint> = { ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

function encodeAction(b: Buffer, at: number, actions: ActionPlan[], plan: HookPlan, where: string): void {
  let post = true;
  let signal = 0;
  let override: number | undefined;
  let rateNs = 0n;
  let rateScope = 0;
  for (const [i, a] of actions.entries()) {
    const w = `${where}[${i}]`;
    switch (a.action) {
      case 'Post':
        if (a.rateLimit) {
          const m = DURATION.exec(a.rateLimit);
          if (!m) throw invalid(w, `rateLimit ${a.rateLimit} is not a duration like 30s, 5m, 1h`);
          rateNs = BigInt(m[1]) * UNIT_NS[m[2] ?? 's'];
          rateScope = RATE_SCOPES[a.rateLimitScope ?? 'thread'];
          if (rateScope === undefined) throw invalid(w, `rateLimitScope ${a.rateLimitScope} is not thread, process or global`);
        }
        break;
      case 'NoPost': post = false; break;
      case 'Sigkill': signal = 9; break;
      case 'Signal':
        if (!a.argSig || a.argSig < 1 || a.argSig > 64) throw invalid(w, `Signal needs argSig between 1 and 64, not ${a.argSig}`);
        signal = a.argSig;
        break;
      case 'Override':
        // A positive argError is returned as written, as Tetragon does (lint warns).
        if (a.argError === undefined || a.argError === 0 || a.argError > 4095 || a.argError < -4095) throw invalid(w, `Override needs argError, an errno, not ${a.argError}`);
        if (plan.kind === 'tracepoint') throw invalid(w, 'Override is not possible on a tracepoint');
        override = a.argError;
        break;
      default:
        throw unsupported(w, `action ${(a as ActionPlan).action} is not supported`);
    }
  }
  const action = override !== undefined ? ACT.VIGIL_ACTION_OVERRIDE
    : signal === 9 ? ACT.VIGIL_ACTION_SIGKILL : signal ? ACT.VIGIL_ACTION_SIGNAL : ACT.VIGIL_ACTION_POST;
  b.writeUInt8(action, at + SA.offsetof.action);
  b.writeUInt8(post ? 1 : 0, at + SA.offsetof.post);
  b.writeUInt8(signal, at + SA.offsetof.signal);
  b.writeUInt8(override !== undefined ? 1 : 0, at + SA.offsetof.override);
  b.writeInt32LE(override ?? 0, at + SA.offsetof.error);
  b.writeBigUInt64LE(rateNs, at + SA.offsetof.rate_ns);
  b.writeUInt8(rateScope, at + SA.offsetof.rate_scope);
}
