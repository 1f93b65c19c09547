// Tetragon's shapes for the kernel-object args read into fixed structs
// (kprobes/include/generic_kobj.h): bpf_attr and bpf_prog, bpf_map,
// perf_event, user_namespace, module and load_info, net_device; and the
// bpf_cmd integer by its name. Enum names are the kernel's uapi names, as
// Tetragon prints them; a value without a name prints as its number.
import type { KprobeArgument, TetragonUserNamespace } from '../../exporters/tetragon.js';
import {
  vigil_bpf_map_arg as BM, vigil_bpf_prog_arg as BP, vigil_module_arg as MA, vigil_module_flag as MF,
  vigil_perf_event_arg as PE, vigil_userns as UN,
} from '../../kernel/abi/layouts.generated.js';
import { validUtf8 } from '../decode/utf8.js';

/** enum bpf_prog_type, from 0. */
const PROG_TYPES = [
  'UNSPEC', 'SOCKET_FILTER', 'KPROBE', 'SCHED_CLS', 'SCHED_ACT', 'TRACEPOINT', 'XDP', 'PERF_EVENT', 'CGROUP_SKB', 'CGROUP_SOCK',
  'LWT_IN', 'LWT_OUT', 'LWT_XMIT', 'SOCK_OPS', 'SK_SKB', 'CGROUP_DEVICE', 'SK_MSG', 'RAW_TRACEPOINT', 'CGROUP_SOCK_ADDR',
  'LWT_SEG6LOCAL', 'LIRC_MODE2', 'SK_REUSEPORT', 'FLOW_DISSECTOR', 'CGROUP_SYSCTL', 'RAW_TRACEPOINT_WRITABLE', 'CGROUP_SOCKOPT',
  'TRACING', 'STRUCT_OPS', 'EXT', 'LSM', 'SK_LOOKUP', 'SYSCALL', 'NETFILTER',
].map((n) => `BPF_PROG_TYPE_${n}`);
/** enum bpf_map_type, from 0. */
const MAP_TYPES = [
  'UNSPEC', 'HASH', 'ARRAY', 'PROG_ARRAY', 'PERF_EVENT_ARRAY', 'PERCPU_HASH', 'PERCPU_ARRAY', 'STACK_TRACE', 'CGROUP_ARRAY',
  'LRU_HASH', 'LRU_PERCPU_HASH', 'LPM_TRIE', 'ARRAY_OF_MAPS', 'HASH_OF_MAPS', 'DEVMAP', 'SOCKMAP', 'CPUMAP', 'XSKMAP', 'SOCKHASH',
  'CGROUP_STORAGE', 'REUSEPORT_SOCKARRAY', 'PERCPU_CGROUP_STORAGE', 'QUEUE', 'STACK', 'SK_STORAGE', 'DEVMAP_HASH', 'STRUCT_OPS',
  'RINGBUF', 'INODE_STORAGE', 'TASK_STORAGE', 'BLOOM_FILTER', 'USER_RINGBUF', 'CGRP_STORAGE', 'ARENA',
].map((n) => `BPF_MAP_TYPE_${n}`);
/** enum bpf_cmd, from 0: Tetragon's BpfCmd values. */
export const BPF_CMDS = [
  'MAP_CREATE', 'MAP_LOOKUP_ELEM', 'MAP_UPDATE_ELEM', 'MAP_DELETE_ELEM', 'MAP_GET_NEXT_KEY', 'PROG_LOAD', 'OBJ_PIN', 'OBJ_GET',
  'PROG_ATTACH', 'PROG_DETACH', 'PROG_TEST_RUN', 'PROG_GET_NEXT_ID', 'MAP_GET_NEXT_ID', 'PROG_GET_FD_BY_ID', 'MAP_GET_FD_BY_ID',
  'OBJ_GET_INFO_BY_FD', 'PROG_QUERY', 'RAW_TRACEPOINT_OPEN', 'BTF_LOAD', 'BTF_GET_FD_BY_ID', 'TASK_FD_QUERY',
  'MAP_LOOKUP_AND_DELETE_ELEM', 'MAP_FREEZE', 'BTF_GET_NEXT_ID', 'MAP_LOOKUP_BATCH', 'MAP_LOOKUP_AND_DELETE_BATCH',
  'MAP_UPDATE_BATCH', 'MAP_DELETE_BATCH', 'LINK_CREATE', 'LINK_UPDATE', 'LINK_GET_FD_BY_ID', 'LINK_GET_NEXT_ID', 'ENABLE_STATS',
  'ITER_CREATE', 'LINK_DETACH', 'PROG_BIND_MAP', 'TOKEN_CREATE',
].map((n) => `BPF_${n}`);
/** perf_event_attr.type: the fixed PMUs; dynamic ones (kprobe, uprobe) print as numbers. */
const PERF_TYPES = ['PERF_TYPE_HARDWARE', 'PERF_TYPE_SOFTWARE', 'PERF_TYPE_TRACEPOINT', 'PERF_TYPE_HW_CACHE', 'PERF_TYPE_RAW', 'PERF_TYPE_BREAKPOINT'];
/** Tetragon's TaintedBitsType: the module taints, by their TAINT_* bit. */
const TAINTS: Record<number, string> = {
  0: 'TAINT_PROPRIETARY_MODULE', 1: 'TAINT_FORCED_MODULE', 3: 'TAINT_FORCED_UNLOAD_MODULE', 10: 'TAINT_STAGED_MODULE',
  12: 'TAINT_OUT_OF_TREE_MODULE', 13: 'TAINT_UNSIGNED_MODULE', 15: 'TAINT_KERNEL_LIVE_PATCH_MODULE', 18: 'TAINT_TEST_MODULE',
};

const named = (names: string[], v: number): string => names[v] ?? String(v);
/** A NUL-padded char array's string. */
const cstr = (b: Buffer, at: number, len: number): string => {
  const s = b.subarray(at, at + len);
  const end = s.indexOf(0);
  return validUtf8(end < 0 ? s : s.subarray(0, end));
};
/** protojson leaves out an empty string and a zero. */
const some = <T>(v: T): T | undefined => (v === '' || v === 0 ? undefined : v);

/** bpf_attr (bpf_attr_arg) and bpf_prog (bpf_prog_arg): the program's type, instruction count and name. */
export function bpfProgArgument(key: 'bpf_attr_arg' | 'bpf_prog_arg', b: Buffer): KprobeArgument {
  if (b.length < BP.sizeof) return { [key]: {} };
  return {
    [key]: {
      ProgType: named(PROG_TYPES, b.readUInt32LE(BP.offsetof.prog_type)),
      InsnCnt: some(b.readUInt32LE(BP.offsetof.insn_cnt)),
      ProgName: some(cstr(b, BP.offsetof.name, 16)),
    },
  };
}

export function bpfMapArgument(b: Buffer): KprobeArgument {
  if (b.length < BM.sizeof) return { bpf_map_arg: {} };
  const u32 = (f: keyof typeof BM.offsetof): number | undefined => some(b.readUInt32LE(BM.offsetof[f]));
  return {
    bpf_map_arg: {
      MapType: named(MAP_TYPES, b.readUInt32LE(BM.offsetof.map_type)),
      KeySize: u32('key_size'), ValueSize: u32('value_size'), MaxEntries: u32('max_entries'),
      MapName: some(cstr(b, BM.offsetof.name, 16)),
    },
  };
}

export function perfEventArgument(b: Buffer): KprobeArgument {
  if (b.length < PE.sizeof) return { perf_event_arg: {} };
  const u64 = (at: number): string | undefined => { const v = b.readBigUInt64LE(at); return v ? v.toString() : undefined; };
  return {
    perf_event_arg: {
      KprobeFunc: some(cstr(b, PE.offsetof.kprobe_func, 64)),
      Type: named(PERF_TYPES, b.readUInt32LE(PE.offsetof.type)),
      Config: u64(PE.offsetof.config),
      ProbeOffset: u64(PE.offsetof.probe_offset),
    },
  };
}

/** struct vigil_userns at b[at] as Tetragon's UserNamespace: the initial namespace is the host's. */
export function userNamespace(b: Buffer, at: number): TetragonUserNamespace {
  const level = b.readInt32LE(at + UN.offsetof.level);
  const inum = b.readUInt32LE(at + UN.offsetof.inum);
  return {
    level, uid: b.readUInt32LE(at + UN.offsetof.uid), gid: b.readUInt32LE(at + UN.offsetof.gid),
    ns: { inum: inum || undefined, is_host: level === 0 ? true : undefined },
  };
}

export const userNsArgument = (b: Buffer): KprobeArgument => (b.length < UN.sizeof ? { user_ns_arg: undefined } : { user_ns_arg: userNamespace(b, 0) });

/** module and load_info: module_arg {name, signature_ok, tainted}. */
export function moduleArgument(b: Buffer): KprobeArgument {
  if (b.length < MA.sizeof) return { module_arg: {} };
  const taints = b.readBigUInt64LE(MA.offsetof.taints);
  const tainted = Object.entries(TAINTS).filter(([bit]) => (taints >> BigInt(bit)) & 1n).map(([, name]) => name);
  const known = (b.readUInt8(MA.offsetof.flags) & MF.VIGIL_MODULE_SIG_KNOWN) !== 0;
  return {
    module_arg: {
      name: some(cstr(b, MA.offsetof.name, 56)),
      signature_ok: known ? b.readUInt8(MA.offsetof.sig_ok) !== 0 : undefined,
      tainted: tainted.length ? tainted : undefined,
    },
  };
}

/** A net_device's name: net_dev_arg {name}. */
export const netDevArgument = (b: Buffer): KprobeArgument => ({ net_dev_arg: { name: some(validUtf8(b)) } });

export const bpfCmdArgument = (v: number): KprobeArgument => ({ bpf_cmd_arg: BPF_CMDS[v] ?? v });
