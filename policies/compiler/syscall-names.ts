// Syscall names as TracingPolicies write them with `syscall: true`:
// `sys_openat` and `__x64_sys_openat` (Tetragon's forms) and plain
// `openat`. The kernel function carries the architecture's prefix; the
// tracepoints are syscalls/sys_enter_<name> and sys_exit_<name>.
import { VigilError } from '../../agent/errors.js';

const ARCH_PREFIX: Record<string, string> = { x64: '__x64_', arm64: '__arm64_' };
const KNOWN_PREFIXES = ['__x64_', '__ia32_', '__arm64_', '__s390x_', '__s390_', '__riscv_'];

export interface SyscallName {
  /** Without prefix: openat. */
  name: string;
  /** The kernel function kprobes and fentry attach to, and Tetragon reports: __x64_sys_openat. */
  function: string;
}

export function syscallName(call: string, arch: string = process.arch): SyscallName {
  const prefix = ARCH_PREFIX[arch];
  if (!prefix) throw new VigilError('VIGIL_NOT_SUPPORTED', `syscall hooks are not supported on ${arch}`);
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
