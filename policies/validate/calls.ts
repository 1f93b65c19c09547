// A kprobe's call resolved against the running kernel: a syscall (named
// sys_openat, __x64_sys_openat or openat) or a kernel function, with its
// parameter count when known.
import type { KernelBtf } from '../../kernel/btf.js';
import { closest } from './suggest.js';
import { isTraceable, syscallArgs, syscallEvents, tracepointExists } from '../../kernel/tracefs.js';
import { bareSyscallName } from '../../kernel/syscalls/names.js';

export interface KernelEnv {
  btf: KernelBtf;
  /** tracefs mount, when there is one. */
  tracefs?: string;
  /** Prefix of this architecture's syscall wrappers, e.g. __x64_. */
  syscallPrefix: string;
}

function syscallExists(env: KernelEnv, name: string): boolean {
  return env.btf.hasFunc(`${env.syscallPrefix}sys_${name}`)
    || (!!env.tracefs && tracepointExists('syscalls', `sys_enter_${name}`, env.tracefs));
}

function syscallNames(env: KernelEnv): string[] {
  if (env.tracefs) return syscallEvents(env.tracefs);
  const prefix = `${env.syscallPrefix}sys_`;
  return env.btf.funcNames().filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
}

const functionExists = (env: KernelEnv, name: string): boolean =>
  env.btf.hasFunc(name) || (!!env.tracefs && isTraceable(env.tracefs, name));

/** The call's parameter count (undefined when unknown), or why it does not resolve. */
export function resolveCall(env: KernelEnv, call: string, syscall: boolean): { params?: number } | string {
  if (syscall) {
    const name = bareSyscallName(call);
    if (syscallExists(env, name)) return { params: env.tracefs ? syscallArgs(env.tracefs, name) : undefined };
    const problem = `syscall "${call}" does not exist in this kernel`;
    if (functionExists(env, call)) return `${problem}; ${call} is a kernel function: set syscall: false`;
    const near = closest(name, syscallNames(env));
    return near ? `${problem} (did you mean "${call.slice(0, call.length - name.length)}${near}"?)` : problem;
  }
  if (env.btf.hasFunc(call)) return { params: env.btf.funcParams(call) };
  if (env.tracefs && isTraceable(env.tracefs, call)) return {};
  const problem = `kernel function "${call}" does not exist in this kernel`;
  if (call.includes('sys_') && syscallExists(env, bareSyscallName(call))) return `${problem}; ${call} is a syscall: set syscall: true`;
  const near = closest(call, env.btf.funcNames());
  return near ? `${problem} (did you mean "${near}"?)` : problem;
}
