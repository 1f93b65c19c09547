// Syscall names as TracingPolicies write them with `syscall: true`:
// `sys_openat` and `__x64_sys_openat` (Tetragon's forms) and plain
// `openat`. The kernel function carries the architecture's prefix; the
// tracepoints are syscalls/sys_enter_<name> and sys_exit_<name>.
import { VigilError } from '../errors.js';

/** The prefix of each architecture's syscall wrappers, by Node's process.arch. */
export const SYSCALL_PREFIX: Readonly<Record<string, string>> = { x64: '__x64_', arm64: '__arm64_', s390x: '__s390x_', riscv64: '__riscv_' };
const KNOWN_PREFIXES = ['__x64_', '__ia32_', '__arm64_', '__s390x_', '__s390_', '__riscv_'];
/** Architectures whose syscall hooks Vigil attaches. */
const HOOKED_ARCHES = new Set(['x64', 'arm64']);

export interface SyscallName {
  /** Without prefix: openat. */
  name: string;
  /** The kernel function kprobes and fentry attach to, and Tetragon reports: __x64_sys_openat. */
  function: string;
}

/** The bare name, whatever prefix the call carries (openat for __x64_sys_openat, sys_openat, openat). */
export function bareSyscallName(call: string): string {
  const other = KNOWN_PREFIXES.find((p) => call.startsWith(p));
  return (other ? call.slice(other.length) : call).replace(/^sys_/, '');
}

/** The call as this architecture's syscall; throws when it names another architecture or is no syscall name. */
export function syscallName(call: string, arch: string = process.arch): SyscallName {
  const prefix = SYSCALL_PREFIX[arch];
  if (!prefix || !HOOKED_ARCHES.has(arch)) throw new VigilError('VIGIL_NOT_SUPPORTED', `syscall hooks are not supported on ${arch}`);
  let rest = call;
  const other = KNOWN_PREFIXES.find((p) => rest.startsWith(p));
  if (other) {
    if (other !== prefix) {
      throw new VigilError('VIGIL_POLICY_INVALID', `syscall ${call} names another architecture (this one uses ${prefix}sys_*)`);
    }
    rest = rest.slice(other.length);
  }
  if (rest.startsWith('sys_')) rest = rest.slice(4);
  else if (other) throw new VigilError('VIGIL_POLICY_INVALID', `syscall ${call}: expected ${prefix}sys_<name>`);
  if (!/^[a-z0-9_]+$/.test(rest)) throw new VigilError('VIGIL_POLICY_INVALID', `syscall ${call} is not a syscall name`);
  return { name: rest, function: `${prefix}sys_${rest}` };
}
