// Compact lines of policy events, as `tetra getevents -o compact` prints
// them (Tetragon's pkg/encoder): a few well-known functions get their own
// emoji and argument, every other kprobe is `❓ syscall`.
import { X64_SYSCALL_NUMBERS } from '../kernel/syscalls/numbers.generated.js';
import type { KprobeArgument, ProcessKprobe, ProcessLsm, ProcessTracepoint, ProcessUprobe, TetragonProcess, TetragonProcessStub } from './tetragon.js';

type Proc = TetragonProcess | TetragonProcessStub;

/** `%-7s` of Go's fmt. */
export const pad = (s: string): string => s.padEnd(7);

/** Where Tetragon's encoder right-aligns the capability trailer: the line's first 120 bytes. */
const CAPS_COLUMN = 120;

/**
 * The 🛑 trailer: Tetragon's encoder walks the indices of the effective
 * list, not its values, and names index 21 (CAP_SYS_ADMIN's value), so the
 * trailer shows on a process with at least 22 effective capabilities. It is
 * right-aligned to byte 120, the width counted in characters, as Go's %*s.
 */
export function capTrailer(line: string, p: Proc): string {
  const effective = 'cap' in p ? p.cap?.effective ?? [] : [];
  if (effective.length <= 21) return line;
  const caps = '🛑 CAP_SYS_ADMIN';
  const width = Math.max(0, CAPS_COLUMN - Buffer.byteLength(line));
  return `${line} ${' '.repeat(Math.max(0, width - [...caps].length))}${caps}`;
}

const sock = (a?: KprobeArgument): string => {
  const s = a?.sock_arg ?? {};
  return `tcp ${s.saddr ?? ''}:${s.sport ?? 0} -> ${s.daddr ?? ''}:${s.dport ?? 0}`;
};

/** Node (or pod) and binary, as Tetragon's processInfo. */
export function processInfo(p: Proc, node: string): string {
  const full = 'binary' in p ? p : undefined;
  const where = full?.pod ? `${full.pod.namespace}/${full.pod.name}` : node;
  return `${where} ${full?.binary ?? ''}`;
}

const SYSCALL_PREFIX = /^__(x64|ia32|arm64|s390x|s390|riscv)_/;
const str = (a?: KprobeArgument): string => a?.string_arg ?? '';
const file = (a?: KprobeArgument): string => a?.file_arg?.path ?? '';
const int = (a?: KprobeArgument): number => a?.int_arg ?? 0;

const NAMESPACES: Record<number, string> = {
  0: 'any', 0x2000000: 'cgroup', 0x8000000: 'ipc', 0x40000000: 'net', 0x20000: 'mnt',
  0x20000000: 'pid', 0x80: 'time', 0x10000000: 'user', 0x4000000: 'uts',
};

export const kprobeLine = (k: ProcessKprobe, node: string): string => capTrailer(kprobeText(k, node), k.process);

function kprobeText(k: ProcessKprobe, node: string): string {
  const info = processInfo(k.process, node);
  const a = k.args;
  switch (k.function_name.replace(SYSCALL_PREFIX, '')) {
    case 'sys_write': return `📝 ${pad('write')} ${info} ${file(a[0])} ${a.length > 2 ? `${a[2].size_arg ?? 0} bytes` : ''}`;
    case 'sys_read': return `📚 ${pad('read')} ${info} ${file(a[0])} ${a.length > 2 ? `${a[2].size_arg ?? 0} bytes` : ''}`;
    case 'fd_install': return `📬 ${pad('open')} ${info} ${file(a[1])}`;
    case 'sys_openat': return `📬️ ${pad('openat')} ${info} ${str(a[1])}`;
    case 'sys_open': return `📬️ ${pad('open')} ${info} ${str(a[1])}`;
    case 'sys_close': return `📪 ${pad('close')} ${info} ${file(a[0])}`;
    case 'sys_mount': return `💾 ${pad('mount')} ${info} ${str(a[0])} ${str(a[1])}`;
    case 'sys_setuid': return `🔑 ${pad('setuid')} ${info} ${a.length > 0 ? int(a[0]) : ''}`;
    case 'sys_clock_settime': return `⏰ ${pad('clock_settime')} ${info}`;
    case 'sys_pivot_root': return `💾 ${pad('pivot_root')} ${info} ${str(a[0])} ${str(a[1])}`;
    case 'proc_exec_connector': return `🔧 ${pad('proc_exec_connector')} ${info}`;
    case 'sys_setns': return `🔧 ${pad('setns')} ${info} ${a.length > 1 ? NAMESPACES[int(a[1])] ?? '' : ''}`;
    case 'security_file_permission': {
      if (a.length < 2) return `❓ ${pad('security_file_permission')} ${info} `;
      const op = ({ 2: `📝 ${pad('write')}`, 4: `📚 ${pad('read')}` } as Record<number, string>)[int(a[1])];
      return `${op ?? `❓ ${pad('security_file_permission')}`} ${info} ${file(a[0])}`;
    }
    case 'tcp_connect': return `🔌 ${pad('connect')} ${info} ${a.length > 0 ? sock(a[0]) : ''}`;
    case 'tcp_close': return `🧹 ${pad('close')} ${info} ${a.length > 0 ? sock(a[0]) : ''}`;
    case 'tcp_sendmsg': return `📤 ${pad('sendmsg')} ${info} ${a.length > 0 ? sock(a[0]) : ''} bytes ${a.length > 1 ? int(a[1]) : 0}`;
    case 'bpf_check': {
      const b = a[0]?.bpf_attr_arg;
      return `🐝 ${pad('bpf_load')} ${info} ${a.length > 0 ? `${b?.ProgType ?? ''} ${b?.ProgName ?? ''} instruction count ${b?.InsnCnt ?? 0}` : ''}`;
    }
    case 'security_perf_event_alloc': {
      const e = a[0]?.perf_event_arg;
      return `🐝 ${pad('perf_event_alloc')} ${info} ${a.length > 0 ? `${e?.Type ?? ''} ${e?.KprobeFunc ?? ''}` : ''}`;
    }
    case 'security_bpf_map_alloc': {
      const m = a[0]?.bpf_map_arg;
      return `🗺 ${pad('bpf_map_create')} ${info} ${a.length > 0 ? `${m?.MapType ?? ''} ${m?.MapName ?? ''} key size ${m?.KeySize ?? 0} value size ${m?.ValueSize ?? 0} max entries ${m?.MaxEntries ?? 0}` : ''}`;
    }
    case 'security_mmap_file': {
      if (a.length < 2) return `❓ ${pad('security_mmap_file')} ${info} `;
      const prot = a[1].uint_arg ?? 0;
      const tag = `mmap-${prot & 1 ? 'r' : ''}${prot & 2 ? 'w' : ''}${prot & 4 ? 'x' : ''}`;
      return `📝 ${pad(tag)} ${info} ${file(a[0])}`;
    }
    case 'security_path_truncate':
      return a.length > 0 ? `📝 ${pad('truncate')} ${info} ${a[0].path_arg?.path ?? ''}` : `❓ ${pad('security_path_truncate')} ${info} `;
    default: return `❓ ${pad('syscall')} ${info} ${k.function_name}`;
  }
}

export function tracepointLine(tp: ProcessTracepoint, node: string): string {
  const info = processInfo(tp.process, node);
  if (tp.subsys === 'raw_syscalls' && tp.event === 'sys_enter') return capTrailer(`☎  ${pad('syscall')} ${info} ${rawSyscall(tp.args)}`, tp.process);
  return capTrailer(`⁉️ ${pad('tracepoint')} ${info} ${tp.subsys} ${tp.event}`, tp.process);
}

export const uprobeLine = (u: ProcessUprobe, node: string): string =>
  capTrailer(`🔎 ${pad('uprobe')} ${processInfo(u.process, node)} ${u.path} ${u.symbol || `0x${BigInt(u.offset ?? 0).toString(16)}`}`, u.process);

const SYSCALL_NAMES = new Map(Object.entries(X64_SYSCALL_NUMBERS).map(([name, nr]) => [nr, name]));

/** raw_syscalls/sys_enter's first argument, the syscall number (a long_arg), by its x86-64 name; "unknown" otherwise. */
function rawSyscall(args: KprobeArgument[]): string {
  const id = args[0]?.long_arg;
  return (id !== undefined && SYSCALL_NAMES.get(Number(id))) || 'unknown';
}

export const lsmLine = (l: ProcessLsm, node: string): string => capTrailer(`🔒 ${pad('LSM')} ${processInfo(l.process, node)} ${l.function_name}`, l.process);
