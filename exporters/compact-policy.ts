// Compact lines of policy events, as `tetra getevents -o compact` prints
// them (Tetragon's pkg/encoder): a few well-known functions get their own
// emoji and argument, every other kprobe is `❓ syscall`.
import type { KprobeArgument, ProcessKprobe, ProcessLsm, ProcessTracepoint, ProcessUprobe, TetragonProcess, TetragonProcessStub } from './tetragon.js';

type Proc = TetragonProcess | TetragonProcessStub;

/** `%-7s` of Go's fmt. */
const pad = (s: string): string => s.padEnd(7);

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

export function kprobeLine(k: ProcessKprobe, node: string): string {
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
      const op = a.length > 1 ? ({ 2: '📝 write  ', 4: '📚 read   ' } as Record<number, string>)[int(a[1])] : undefined;
      return `${op ?? `❓ ${pad('security_file_permission')} `}${info} ${a.length > 1 ? file(a[0]) : ''}`;
    }
    case 'security_path_truncate':
      return a.length > 0 ? `📝 ${pad('truncate')} ${info} ${a[0].path_arg?.path ?? ''}` : `❓ ${pad('security_path_truncate')} ${info} `;
    default: return `❓ ${pad('syscall')} ${info} ${k.function_name}`;
  }
}

export const tracepointLine = (tp: ProcessTracepoint, node: string): string =>
  `⁉️ ${pad('tracepoint')} ${processInfo(tp.process, node)} ${tp.subsys} ${tp.event}`;

export const uprobeLine = (u: ProcessUprobe, node: string): string =>
  `🔎 ${pad('uprobe')} ${processInfo(u.process, node)} ${u.path} ${u.symbol || `0x${BigInt(u.offset ?? 0).toString(16)}`}`;

export const lsmLine = (l: ProcessLsm, node: string): string => `🔒 ${pad('LSM')} ${processInfo(l.process, node)} ${l.function_name}`;
