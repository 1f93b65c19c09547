// A compiled hook plan: one hook of one TracingPolicy, as plain data.
// The policy front-end produces it from a validated spec; the mechanism
// choice (mechanism.ts), the kernel encoding (encode.ts) and the generic
// sensor (agent/sensors/generic.ts) consume it. It is JSON-serialisable
// and names things as Tetragon's TracingPolicy does.
import type { NamespaceType } from '../../kernel/namespaces.js';
import { isIntType } from '../arg-types.js';
import type { PolicyScope } from '../scope.js';

export { NAMESPACE_TYPES, type NamespaceType } from '../../kernel/namespaces.js';
export { isIntType };

export type HookKind = 'kprobe' | 'tracepoint' | 'lsm' | 'uprobe';

/** Argument types the kernel side reads. Aliases (u64, s32, long…) map here through canonicalArgType. */
export const INT_ARG_TYPES = [
  'int', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'size_t',
  // Integers reported as Tetragon does: capability_arg, and capability sets in hex.
  'capability', 'kernel_cap_t', 'cap_inheritable', 'cap_permitted', 'cap_effective',
  // A syscall number (raw_syscalls tracepoints' id), reported as syscall_id; a bpf(2) command, as bpf_cmd_arg.
  'syscall64', 'bpf_cmd',
] as const;
/** Read into a fixed tuple (kprobes/include/generic_net.h); events print sock_arg, sockaddr_arg or skb_arg. */
export const NET_ARG_TYPES = ['sock', 'socket', 'sockaddr', 'skb'] as const;
/** Other kernel objects, read into fixed structs (kprobes/include/generic_kobj.h); no filter applies to them. */
export const KOBJ_ARG_TYPES = ['bpf_attr', 'bpf_prog', 'bpf_map', 'perf_event', 'user_namespace', 'module', 'load_info', 'net_device'] as const;
export const ARG_TYPES = [...INT_ARG_TYPES, 'string', 'data_loc', 'fd', 'file', 'path', 'dentry', 'linux_binprm', 'char_buf', 'char_iovec', 'cred', ...NET_ARG_TYPES, ...KOBJ_ARG_TYPES] as const;
export type IntArgType = (typeof INT_ARG_TYPES)[number];
export type NetArgType = (typeof NET_ARG_TYPES)[number];
export type ArgType = (typeof ARG_TYPES)[number];

const ALIASES: Record<string, ArgType> = {
  s8: 'int8', s16: 'int16', s32: 'int32', s64: 'int64', long: 'int64',
  u8: 'uint8', u16: 'uint16', u32: 'uint32', u64: 'uint64', ulong: 'uint64',
};

/** The canonical type of a TracingPolicy arg type name, or undefined when Vigil cannot read it. */
export function canonicalArgType(name: string): ArgType | undefined {
  if ((ARG_TYPES as readonly string[]).includes(name)) return name as ArgType;
  return ALIASES[name];
}

export const isNetType = (t: ArgType): t is NetArgType => (NET_ARG_TYPES as readonly string[]).includes(t);
/** Types captured as bytes (a string or a resolved path), not as an integer or a network tuple. */
export const isBytesType = (t: ArgType): boolean => !isIntType(t) && !isNetType(t);
export const isPathType = (t: ArgType): boolean => t === 'fd' || t === 'file' || t === 'path' || t === 'dentry' || t === 'linux_binprm';
/** Buffers: recorded as their full size then the bytes copied. */
export const isBufferType = (t: ArgType): boolean => t === 'char_buf' || t === 'char_iovec';

export interface ArgPlan {
  /** The function's argument index (kprobe, lsm), or the tracepoint format field index. */
  index: number;
  type: ArgType;
  label?: string;
  /** Tetragon's maxData: buffers copy up to the record's room (16 KiB for all args) instead of 4096 bytes. */
  maxData?: boolean;
  /** char_buf, char_iovec: read at return (a return probe); char_buf's size is then the return value. */
  returnCopy?: boolean;
  /** char_buf, char_iovec: the `index` of the size (or iovec count) arg, plus one, as Tetragon writes it. */
  sizeArgIndex?: number;
}

/** On sock, socket, sockaddr and skb args (a sockaddr: SAddr, SPort, their negations and privileged forms, Family). */
export const NET_OPERATORS = [
  'SAddr', 'NotSAddr', 'DAddr', 'NotDAddr', 'SPort', 'NotSPort', 'DPort', 'NotDPort',
  'SPortPriv', 'NotSPortPriv', 'DPortPriv', 'NotDPortPriv', 'Protocol', 'Family', 'State',
] as const;
export const ARG_OPERATORS = ['Equal', 'NotEqual', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix', 'SubString', 'SubStringIgnCase', 'FileType', 'NotFileType', 'GT', 'LT', 'Mask', 'InMap', 'NotInMap', 'InRange', 'NotInRange', 'CapabilitiesGained', ...NET_OPERATORS] as const;
export type NetOperator = (typeof NET_OPERATORS)[number];
export type ArgOperator = (typeof ARG_OPERATORS)[number];

export interface ArgFilter {
  /** The `index` of one of the hook's args (not its position in `args`). */
  index: number;
  operator: ArgOperator;
  /** As written in the policy: integers in decimal or 0x hex, strings verbatim. */
  values: string[];
}

export interface PidFilter {
  operator: 'In' | 'NotIn';
  values: number[];
  followForks: boolean;
  isNamespacePID: boolean;
}

export const BINARY_OPERATORS = ['In', 'NotIn', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix'] as const;
export type BinaryOperator = (typeof BINARY_OPERATORS)[number];

export interface BinaryFilter {
  operator: BinaryOperator;
  values: string[];
  /** In only: descendants of a process that executed one of the values match too. */
  followChildren?: boolean;
}


export interface NamespaceFilter {
  namespace: NamespaceType;
  operator: 'In' | 'NotIn';
  /** Inode numbers, or host_ns: the namespace of the host's init. */
  values: string[];
}

export interface NamespaceChangesFilter {
  /** In: one of the listed namespaces changed since exec; NotIn: one of the others did. */
  operator: 'In' | 'NotIn';
  values: NamespaceType[];
}

export interface CapabilityFilter {
  type: 'Effective' | 'Inheritable' | 'Permitted';
  operator: 'In' | 'NotIn';
  /** CAP_* names. */
  values: string[];
  /** Only outside the initial user namespace. */
  isNamespaceCapability: boolean;
}

export type ActionName = 'Post' | 'NoPost' | 'Sigkill' | 'Signal' | 'Override';

export interface ActionPlan {
  action: ActionName;
  /** Signal: the signal number. */
  argSig?: number;
  /** Override: the return value, a negative errno (e.g. -1 for EPERM). */
  argError?: number;
  /** Post: at most one event per this window for identical args, e.g. '1m', '30s'. */
  rateLimit?: string;
  /** What identical means for rateLimit: the same thread (default), process, or anywhere. */
  rateLimitScope?: 'thread' | 'process' | 'global';
}

/** Filters inside a selector AND together; across selectors the first match wins. */
export interface SelectorPlan {
  matchArgs: ArgFilter[];
  /** Return probes: filters on the return value (their index is ignored). */
  matchReturnArgs?: ArgFilter[];
  matchPIDs: PidFilter[];
  matchBinaries: BinaryFilter[];
  /** The parent's binary; shares the selector's matchBinaries slots. */
  matchParentBinaries?: BinaryFilter[];
  matchNamespaces?: NamespaceFilter[];
  matchNamespaceChanges?: NamespaceChangesFilter[];
  matchCapabilities?: CapabilityFilter[];
  /** Against the capabilities at exec; shares the selector's matchCapabilities slots. */
  matchCapabilityChanges?: CapabilityFilter[];
  /** Empty: Post. */
  matchActions: ActionPlan[];
}

interface HookPlanBase {
  policyName: string;
  /** The hook's position in its policy section (spec.kprobes[i], spec.tracepoints[i], spec.lsmhooks[i]). */
  hookIndex: number;
  args: ArgPlan[];
  /** With `return: true`: the return value's type; the hook is then a return probe. */
  returnArg?: ArgPlan;
  /** Empty: every call is posted. */
  selectors: SelectorPlan[];
  message?: string;
  tags?: string[];
  /** spec.options fail-closed: a filter on an arg Vigil could not read matches in selectors that signal or override. */
  failClosed?: boolean;
  /** A policy limited to pods: the hook acts only on tasks in the cgroups the agent puts in the policy's scope. */
  scope?: PolicyScope;
}

export interface KprobeHookPlan extends HookPlanBase {
  kind: 'kprobe';
  /** `call` as written: a kernel function, or with syscall a syscall name (sys_openat, __x64_sys_openat, openat). */
  target: { function: string };
  syscall: boolean;
}

export interface TracepointHookPlan extends HookPlanBase {
  kind: 'tracepoint';
  target: { subsystem: string; event: string };
  syscall: false;
}

export interface LsmHookPlan extends HookPlanBase {
  kind: 'lsm';
  /** The LSM hook without prefix, e.g. file_open. */
  target: { hook: string };
  syscall: false;
}

export interface UprobeHookPlan extends HookPlanBase {
  kind: 'uprobe';
  /**
   * One probe of spec.uprobes[i]: the file, and a symbol (offset 0 from it) or
   * a file offset (addrs are converted to file offsets by the front-end).
   */
  target: { path: string; symbol?: string; offset: number; refCtrOffset?: number };
  syscall: false;
}

export type HookPlan = KprobeHookPlan | TracepointHookPlan | LsmHookPlan | UprobeHookPlan;

/** The followChildren filters of a plan, in encoding order (selectors, then their matchBinaries). */
export function followFilters(plan: HookPlan): BinaryFilter[] {
  return plan.selectors.flatMap((s) => s.matchBinaries.filter((b) => b.followChildren));
}

/** The actions any selector of the plan can take. */
export function planActions(plan: HookPlan): Set<ActionName> {
  return new Set(plan.selectors.flatMap((s) => s.matchActions.map((a) => a.action)));
}

const SECTIONS: Record<HookKind, string> = { kprobe: 'kprobes', tracepoint: 'tracepoints', lsm: 'lsmhooks', uprobe: 'uprobes' };

/** The hook's field path in its policy: spec.kprobes[0], spec.tracepoints[1], spec.lsmhooks[2], spec.uprobes[3]. */
export const hookPath = (plan: Pick<HookPlan, 'kind' | 'hookIndex'>): string => `spec.${SECTIONS[plan.kind]}[${plan.hookIndex}]`;

/** A uprobe's place in its file: the symbol, or the file offset in hex. */
export const uprobeWhere = (t: UprobeHookPlan['target']): string => t.symbol ?? `0x${t.offset.toString(16)}`;

/** How a user refers to the hook: kprobe:fn, tracepoint:subsys/event, lsm:hook, uprobe:/path:symbol. */
export function hookName(plan: HookPlan): string {
  switch (plan.kind) {
    case 'kprobe': return `kprobe:${plan.target.function}`;
    case 'tracepoint': return `tracepoint:${plan.target.subsystem}/${plan.target.event}`;
    case 'lsm': return `lsm:${plan.target.hook}`;
    case 'uprobe': return `uprobe:${plan.target.path}:${uprobeWhere(plan.target)}`;
  }
}
