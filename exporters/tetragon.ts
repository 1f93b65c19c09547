// Exported events, in Tetragon's JSON field names (snake_case), so SIEM
// pipelines built for Tetragon read Vigil's output unchanged.

/** Capability sets by CapabilitiesType name (a number for a bit the enum lacks); an empty set is left out. */
export interface TetragonCaps {
  permitted?: (string | number)[];
  effective?: (string | number)[];
  inheritable?: (string | number)[];
}

export interface TetragonCredentials {
  uid: number; gid: number; euid: number; egid: number;
  suid: number; sgid: number; fsuid: number; fsgid: number;
}

/** A pod's container: `id` as the kubelet reports it (containerd://<64 hex>), `pid` the process's pid in its pid namespace. */
export interface TetragonContainer {
  id: string;
  name?: string;
  image?: { id?: string; name?: string };
  start_time?: string;
  pid?: number;
  /** Tetragon's guess that an exec is the kubelet's probe; Vigil does not set it, the export filters read it. */
  maybe_exec_probe?: boolean;
}

/** Tetragon's Pod: the Kubernetes pod of a process. */
export interface TetragonPod {
  namespace: string;
  name: string;
  uid?: string;
  container?: TetragonContainer;
  pod_labels?: Record<string, string>;
  workload?: string;
  workload_kind?: string;
}

/**
 * A process, in Tetragon's field order. As protojson writes it, a field at
 * its default (an empty string, an empty list) is left out; the wrapped
 * numbers (pid, uid, auid, tid) and in_init_tree are written whatever
 * their value.
 */
export interface TetragonProcess {
  exec_id: string;
  pid: number;
  /** The effective uid, as Tetragon's uid. */
  uid: number;
  cwd?: string;
  binary: string;
  arguments?: string;
  flags: string;
  start_time: string;
  auid: number;
  pod?: TetragonPod;
  /** The container ID's first 31 characters, as Tetragon gives it. */
  docker?: string;
  parent_exec_id?: string;
  /** process_exit only: what the process cache still holds the process for, its cached children. */
  refcnt?: number;
  /** With --enable-process-cred. */
  cap?: TetragonCaps;
  /** With --enable-process-ns. */
  ns?: TetragonNamespaces;
  tid: number;
  /** With --enable-process-cred. */
  process_credentials?: TetragonCredentials;
  /** process_exec only, with --enable-process-cred, when the exec changed privileges or ran a file not on disk. */
  binary_properties?: TetragonBinaryProperties;
  /** With --username-metadata unix, for processes of the host's user and mount namespaces. */
  user?: { name: string };
  in_init_tree?: boolean;
}

export interface TetragonNamespace {
  inum?: number;
  is_host?: boolean;
}

export type TetragonNamespaces = Partial<Record<'uts' | 'ipc' | 'mnt' | 'pid' | 'pid_for_children' | 'net' | 'time' | 'time_for_children' | 'cgroup' | 'user', TetragonNamespace>>;

export interface TetragonBinaryProperties {
  setuid?: number;
  setgid?: number;
  privileges_changed?: ('PRIVILEGES_RAISED_EXEC_FILE_CAP' | 'PRIVILEGES_RAISED_EXEC_FILE_SETUID' | 'PRIVILEGES_RAISED_EXEC_FILE_SETGID')[];
  /** uint64 inode number as a string, as protojson writes it. */
  file?: { inode?: { number?: string; links?: number }; path?: string };
}

export interface ProcessExec {
  process: TetragonProcess;
  parent?: TetragonProcess;
  ancestors?: TetragonProcess[];
}

export interface ProcessExit {
  process: TetragonProcess;
  parent?: TetragonProcess;
  signal?: string;
  status?: number;
  time: string;
  /** With --enable-ancestors base. */
  ancestors?: TetragonProcess[];
}

/** A process the cache does not know: Tetragon then reports only these. */
export interface TetragonProcessStub {
  pid: number;
  start_time: string;
}

/** A user namespace, as Tetragon's UserNamespace. */
export interface TetragonUserNamespace {
  level: number;
  uid: number;
  gid: number;
  ns: { inum?: number; is_host?: boolean };
}

/** A cred arg: Tetragon's ProcessCredentials. */
export interface TetragonCredentialsArg extends TetragonCredentials {
  securebits?: string[];
  caps: TetragonCaps;
  user_ns: TetragonUserNamespace;
}

/** A socket (sock and socket args), in KprobeSock's field order. */
export interface KprobeSock {
  family?: string;
  type?: string;
  protocol?: string;
  mark?: number;
  priority?: number;
  saddr?: string;
  daddr?: string;
  sport?: number;
  dport?: number;
  /** uint64, a string as protojson writes it. */
  cookie?: string;
  state?: string;
}

export interface KprobeSockaddr {
  family?: string;
  addr?: string;
  port?: number;
}

/** An AF_UNIX sockaddr: its path, or an abstract name as @name. */
export interface KprobeSockaddrUn {
  family?: string;
  path?: string;
}

export interface KprobeSkb {
  hash?: number;
  len?: number;
  priority?: number;
  mark?: number;
  saddr?: string;
  daddr?: string;
  sport?: number;
  dport?: number;
  proto?: number;
  protocol?: string;
  family?: string;
}

/** A BPF program: a bpf_attr (being loaded) or bpf_prog arg. */
export interface KprobeBpfProg {
  ProgType?: string;
  InsnCnt?: number;
  ProgName?: string;
}

/** One argument of a policy event: exactly one value key, then the label. */
export interface KprobeArgument {
  int_arg?: number;
  uint_arg?: number;
  /** int64 and uint64 are strings, as protojson writes them. */
  long_arg?: string;
  size_arg?: string;
  string_arg?: string;
  file_arg?: { path: string; flags?: string };
  path_arg?: { path: string; flags?: string };
  linux_binprm_arg?: { path: string; flags?: string };
  /** char_buf, char_iovec: base64, as protojson writes bytes. */
  bytes_arg?: string;
  /** A buffer cut at the capture limit; orig_size is its full size (a string, as protojson writes uint64). */
  truncated_bytes_arg?: { bytes_arg: string; orig_size: string };
  process_credentials_arg?: TetragonCredentialsArg;
  capability_arg?: { value: number; name?: string };
  /** Capability sets in hexadecimal, 16 digits. */
  kernel_cap_t_arg?: string;
  cap_inheritable_arg?: string;
  cap_permitted_arg?: string;
  cap_effective_arg?: string;
  sock_arg?: KprobeSock;
  sockaddr_arg?: KprobeSockaddr;
  sockaddrun_arg?: KprobeSockaddrUn;
  skb_arg?: KprobeSkb;
  /** Kernel objects (agent/enrich/kobj-args.ts); Tetragon capitalizes the BPF ones' fields. */
  bpf_attr_arg?: KprobeBpfProg;
  bpf_prog_arg?: KprobeBpfProg;
  perf_event_arg?: { KprobeFunc?: string; Type?: string; Config?: string; ProbeOffset?: string };
  bpf_map_arg?: { MapType?: string; KeySize?: number; ValueSize?: number; MaxEntries?: number; MapName?: string };
  user_ns_arg?: TetragonUserNamespace;
  module_arg?: { name?: string; signature_ok?: boolean; tainted?: string[] };
  net_dev_arg?: { name?: string };
  /** A bpf(2) command's name, or its number when it has none. */
  bpf_cmd_arg?: string | number;
  /** syscall64: the syscall number and the table it is in. */
  syscall_id?: { id: number; abi: string };
  label?: string;
}

export type KprobeAction = 'KPROBE_ACTION_POST' | 'KPROBE_ACTION_SIGKILL' | 'KPROBE_ACTION_SIGNAL' | 'KPROBE_ACTION_OVERRIDE' | 'KPROBE_ACTION_UNKNOWN';

interface PolicyEventBase {
  process: TetragonProcess | TetragonProcessStub;
  parent?: TetragonProcess;
  /** With --enable-ancestors naming the event's kind; written last, as in Tetragon's field order. */
  ancestors?: TetragonProcess[];
}

/** Fields in Tetragon's protobuf order. */
export interface ProcessKprobe extends PolicyEventBase {
  function_name: string;
  args: KprobeArgument[];
  return?: KprobeArgument;
  action: KprobeAction;
  policy_name: string;
  /** Return probes: the action taken at return. */
  return_action?: KprobeAction;
  message?: string;
  tags?: string[];
}

export interface ProcessTracepoint extends PolicyEventBase {
  subsys: string;
  event: string;
  args: KprobeArgument[];
  policy_name: string;
  action: KprobeAction;
  message?: string;
  tags?: string[];
}

/** Fields in Tetragon's protobuf order; offset only when no symbol names the probe (uint64, as protojson writes it). */
export interface ProcessUprobe extends PolicyEventBase {
  path: string;
  symbol?: string;
  policy_name: string;
  message?: string;
  args: KprobeArgument[];
  tags?: string[];
  offset?: string;
  ref_ctr_offset?: string;
  action: KprobeAction;
}

export interface ProcessLsm extends PolicyEventBase {
  function_name: string;
  policy_name: string;
  message?: string;
  args: KprobeArgument[];
  action: KprobeAction;
  tags?: string[];
}

/**
 * Vigil's own event, not Tetragon's: events that were lost before they
 * could be exported. Sent whenever a count grew (at most every 2 s), to
 * every exporter, so loss is visible in the stream it happened to. Counts
 * are since the previous vigil_lost event, and in total since the start.
 */
export interface VigilLost {
  /** Records the kernel could not put in the ring buffer (it was full), per program. */
  ring_buffer?: { sensor: string; program: string; hook: string; lost: number; lost_total: number }[];
  /** Events an exporter dropped (its sink was slow, full or gone), per exporter. */
  exporters?: { name: string; dropped: number; dropped_total: number }[];
  /** Records the agent could not decode (unknown op, malformed, unknown hook). */
  undecodable?: number;
  /** Every event lost since the previous vigil_lost, all causes together. */
  lost: number;
}

/** Tetragon's report of events its export rate limit dropped (uint64, a string as protojson writes it). */
export interface RateLimitInfo {
  number_of_dropped_process_events: string;
}

/** One exported event: exactly one of the kind keys is set. */
export interface TetragonEvent {
  process_exec?: ProcessExec;
  process_exit?: ProcessExit;
  process_kprobe?: ProcessKprobe;
  process_tracepoint?: ProcessTracepoint;
  process_uprobe?: ProcessUprobe;
  process_lsm?: ProcessLsm;
  vigil_lost?: VigilLost;
  rate_limit_info?: RateLimitInfo;
  node_name: string;
  time: string;
}

export const EVENT_TYPES = ['process_exec', 'process_exit', 'process_kprobe', 'process_tracepoint', 'process_uprobe', 'process_lsm', 'vigil_lost', 'rate_limit_info'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function eventType(ev: TetragonEvent): EventType | undefined {
  for (const k of EVENT_TYPES) if (ev[k] !== undefined) return k;
  return undefined;
}

/** The event's subject process, whatever its kind (a stub when the cache did not know it). */
export function eventProcess(ev: TetragonEvent): TetragonProcess | TetragonProcessStub | undefined {
  const t = eventType(ev);
  return t && t !== 'vigil_lost' && t !== 'rate_limit_info' ? ev[t]?.process : undefined;
}

export const isFullProcess = (p: TetragonProcess | TetragonProcessStub | undefined): p is TetragonProcess =>
  p !== undefined && 'binary' in p;
