// Compact lines of policy events, as `tetra getevents -o compact` prints
// them (Tetragon's pkg/encoder): a few well-known functions get their own
// emoji and argument, every other kprobe is `❓ syscall`.
import { X64_SYSCALL_NUMBERS } from '../kernel/syscalls/numbers.generated.js';
import { PLAIN, type Palette } from './compact-color.js';
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
export function capTrailer(line: string, p: Proc, c: Palette = PLAIN): string {
  const effective = 'cap' in p ? p.cap?.effective ?? [] : [];
  // Painted, even an empty trailer is not empty: Tetragon's encoder then pads every line.
  const caps = c.magenta(effective.length > 21 ? '🛑 CAP_SYS_ADMIN' : '');
  if (!caps) return line;
  const width = Math.max(0, CAPS_COLUMN - Buffer.byteLength(line));
  return `${line} ${' '.repeat(Math.max(0, width - [...caps].length))}${caps}`;
}

const sock = (a: KprobeArgument): string => {
  const s = a.sock_arg ?? {};
  return `tcp ${s.saddr ?? ''}:${s.sport ?? 0} -> ${s.daddr ?? ''}:${s.dport ?? 0}`;
};

/** Node (or pod) and binary, as Tetragon's processInfo. */
export function processInfo(p: Proc, node: string, c: Palette = PLAIN): string {
  const full = 'binary' in p ? p : undefined;
  const where = full?.pod ? `${full.pod.namespace}/${full.pod.name}` : node;
  return `${c.green(where)} ${c.magenta(full?.binary ?? '')}`;
}

/** The event's emoji and name: `%-7s` of Go's fmt, blue. */
export const label = (c: Palette, emoji: string, name: string): string => c.blue(`${emoji} ${pad(name)}`);

const SYSCALL_PREFIX = /^__(x64|ia32|arm64|s390x|s390|riscv)_/;
const str = (a: KprobeArgument): string => a.string_arg ?? '';
const file = (a: KprobeArgument): string => a.file_arg?.path ?? '';
const int = (a: KprobeArgument): number => a.int_arg ?? 0;

const NAMESPACES: Record<number, string> = {
  0: 'any', 0x2000000: 'cgroup', 0x8000000: 'ipc', 0x40000000: 'net', 0x20000: 'mnt',
  0x20000000: 'pid', 0x80: 'time', 0x10000000: 'user', 0x4000000: 'uts',
};

export const kprobeLine = (k: ProcessKprobe, node: string, c: Palette = PLAIN): string => capTrailer(kprobeText(k, node, c), k.process, c);

function kprobeText(k: ProcessKprobe, node: string, c: Palette): string {
  const info = processInfo(k.process, node, c);
  const a = k.args;
  /** Argument i, shown (cyan) when the event has it, as the encoder's length checks do. */
  const arg = (i: number, show: (x: KprobeArgument) => string | number): string => (a.length > i ? c.cyan(String(show(a[i]))) : '');
  switch (k.function_name.replace(SYSCALL_PREFIX, '')) {
    case 'sys_write': return `${label(c, '📝', 'write')} ${info} ${arg(0, file)} ${arg(2, (x) => `${x.size_arg ?? 0} bytes`)}`;
    case 'sys_read': return `${label(c, '📚', 'read')} ${info} ${arg(0, file)} ${arg(2, (x) => `${x.size_arg ?? 0} bytes`)}`;
    case 'fd_install': return `${label(c, '📬', 'open')} ${info} ${arg(1, file)}`;
    case 'sys_openat': return `${label(c, '📬️', 'openat')} ${info} ${arg(1, str)}`;
    case 'sys_open': return `${label(c, '📬️', 'open')} ${info} ${arg(1, str)}`;
    case 'sys_close': return `${label(c, '📪', 'close')} ${info} ${arg(0, file)}`;
    case 'sys_mount': return `${label(c, '💾', 'mount')} ${info} ${arg(0, str)} ${arg(1, str)}`;
    case 'sys_setuid': return `${label(c, '🔑', 'setuid')} ${info} ${arg(0, int)}`;
    case 'sys_clock_settime': return `${label(c, '⏰', 'clock_settime')} ${info}`;
    case 'sys_pivot_root': return `${label(c, '💾', 'pivot_root')} ${info} ${arg(0, str)} ${arg(1, str)}`;
    case 'proc_exec_connector': return `${label(c, '🔧', 'proc_exec_connector')} ${info}`;
    case 'sys_setns': return `${label(c, '🔧', 'setns')} ${info} ${a.length > 1 ? NAMESPACES[int(a[1])] ?? '' : ''}`;
    case 'security_file_permission': {
      if (a.length < 2) return `${label(c, '❓', 'security_file_permission')} ${info} `;
      const op = ({ 2: label(c, '📝', 'write'), 4: label(c, '📚', 'read') } as Record<number, string>)[int(a[1])];
      return `${op ?? label(c, '❓', 'security_file_permission')} ${info} ${arg(0, file)}`;
    }
    case 'tcp_connect': return `${label(c, '🔌', 'connect')} ${info} ${arg(0, sock)}`;
    case 'tcp_close': return `${label(c, '🧹', 'close')} ${info} ${arg(0, sock)}`;
    case 'tcp_sendmsg': return `${label(c, '📤', 'sendmsg')} ${info} ${arg(0, sock)} bytes ${a.length > 1 ? int(a[1]) : 0}`;
    case 'bpf_check':
      return `${label(c, '🐝', 'bpf_load')} ${info} ${arg(0, (x) => `${x.bpf_attr_arg?.ProgType ?? ''} ${x.bpf_attr_arg?.ProgName ?? ''} instruction count ${x.bpf_attr_arg?.InsnCnt ?? 0}`)}`;
    case 'security_perf_event_alloc':
      return `${label(c, '🐝', 'perf_event_alloc')} ${info} ${arg(0, (x) => `${x.perf_event_arg?.Type ?? ''} ${x.perf_event_arg?.KprobeFunc ?? ''}`)}`;
    case 'security_bpf_map_alloc': {
      const map = (x: KprobeArgument): string => {
        const m = x.bpf_map_arg;
        return `${m?.MapType ?? ''} ${m?.MapName ?? ''} key size ${m?.KeySize ?? 0} value size ${m?.ValueSize ?? 0} max entries ${m?.MaxEntries ?? 0}`;
      };
      return `${label(c, '🗺', 'bpf_map_create')} ${info} ${arg(0, map)}`;
    }
    case 'security_mmap_file': {
      if (a.length < 2) return `${label(c, '❓', 'security_mmap_file')} ${info} `;
      const prot = a[1].uint_arg ?? 0;
      const tag = `mmap-${prot & 1 ? 'r' : ''}${prot & 2 ? 'w' : ''}${prot & 4 ? 'x' : ''}`;
      return `${label(c, '📝', tag)} ${info} ${arg(0, file)}`;
    }
    case 'security_path_truncate':
      return a.length > 0 ? `${label(c, '📝', 'truncate')} ${info} ${arg(0, (x) => x.path_arg?.path ?? '')}` : `${label(c, '❓', 'security_path_truncate')} ${info} `;
    default: return `${label(c, '❓', 'syscall')} ${info} ${k.function_name}`;
  }
}

export function tracepointLine(tp: ProcessTracepoint, node: string, c: Palette = PLAIN): string {
  const info = processInfo(tp.process, node, c);
  if (tp.subsys === 'raw_syscalls' && tp.event === 'sys_enter') return capTrailer(`${c.blue(`☎  ${pad('syscall')}`)} ${info} ${rawSyscall(tp.args)}`, tp.process, c);
  return capTrailer(`${label(c, '⁉️', 'tracepoint')} ${info} ${tp.subsys} ${tp.event}`, tp.process, c);
}

export const uprobeLine = (u: ProcessUprobe, node: string, c: Palette = PLAIN): string =>
  capTrailer(`${label(c, '🔎', 'uprobe')} ${processInfo(u.process, node, c)} ${u.path} ${u.symbol || `0x${BigInt(u.offset ?? 0).toString(16)}`}`, u.process, c);

const SYSCALL_NAMES = new Map(Object.entries(X64_SYSCALL_NUMBERS).map(([name, nr]) => [nr, name]));

/** raw_syscalls/sys_enter's first argument, the syscall number (a long_arg), by its x86-64 name; "unknown" otherwise. */
function rawSyscall(args: KprobeArgument[]): string {
  const id = args[0]?.long_arg;
  return (id !== undefined && SYSCALL_NAMES.get(Number(id))) || 'unknown';
}

export const lsmLine = (l: ProcessLsm, node: string, c: Palette = PLAIN): string =>
  capTrailer(`${label(c, '🔒', 'LSM')} ${processInfo(l.process, node, c)} ${l.function_name}`, l.process, c);
