// Layer 4: the running kernel. Each kprobe function, syscall, tracepoint
// and LSM hook exists, and each arg index is below its parameter count.
// Reads BTF (/sys/kernel/btf/vmlinux) and tracefs; loads nothing.
import type { KProbeArg, TracingPolicy, UProbeSpec } from '../types.generated.js';
import { ElfFile } from '../../kernel/elf.js';
import type { VigilError } from '../../kernel/errors.js';
import { KernelBtf } from '../../kernel/btf.js';
import { resolveCall, type KernelEnv } from './calls.js';
import type { Finding } from './errors.js';
import type { PathSeg } from './path.js';
import { hint } from './suggest.js';
import { SYSCALL_PREFIX } from '../../kernel/syscalls/names.js';
import { ensureTracefs, events, subsystems, tracepointFields } from '../../kernel/tracefs.js';


let env: KernelEnv | string | undefined;

/** The kernel facts, read once per process; a string says why they are unavailable. */
export function kernelEnv(): KernelEnv | string {
  if (env === undefined) {
    const btf = KernelBtf.open();
    env = typeof btf === 'string' ? btf : { btf, tracefs: ensureTracefs().root, syscallPrefix: SYSCALL_PREFIX[process.arch] ?? '__x64_' };
  }
  return env;
}

export function checkKernel(policy: TracingPolicy, env: KernelEnv): Finding[] {
  const out: Finding[] = [];
  const { spec } = policy;
  spec.kprobes?.forEach((kp, i) => {
    const path = ['spec', 'kprobes', i];
    if (kp.call.startsWith('list:')) return;
    const found = resolveCall(env, kp.call, kp.syscall ?? true);
    if (typeof found === 'string') {
      const ignored = kp.ignore?.callNotFound === true;
      out.push({ path: [...path, 'call'], severity: ignored ? 'warning' : 'error', message: ignored ? `${found}; ignore.callNotFound skips the hook` : found });
    } else if (found.params !== undefined) {
      checkArgs(kp.args ?? [], path, found.params, `${kp.call} takes ${plural(found.params, 'argument')}`, out);
    }
  });
  spec.tracepoints?.forEach((tp, i) => {
    const path = ['spec', 'tracepoints', i];
    if (!env.tracefs) {
      if (!env.btf.hasStruct(`trace_event_raw_${tp.event}`)) {
        out.push({ path: [...path, 'event'], severity: 'warning', message: `tracepoint ${tp.subsystem}/${tp.event} is unconfirmed: tracefs is not mounted and BTF has no trace_event_raw_${tp.event}` });
      }
      return;
    }
    const subs = subsystems(env.tracefs);
    if (!subs.includes(tp.subsystem)) {
      out.push({ path: [...path, 'subsystem'], message: `tracepoint subsystem "${tp.subsystem}" does not exist in this kernel${hint(tp.subsystem, subs, 0)}` });
      return;
    }
    const evs = events(env.tracefs, tp.subsystem);
    if (!evs.includes(tp.event)) {
      out.push({ path: [...path, 'event'], message: `tracepoint "${tp.subsystem}/${tp.event}" does not exist in this kernel${hint(tp.event, evs, 0)}` });
      return;
    }
    const fields = tracepointFields(tp.subsystem, tp.event, env.tracefs);
    if (fields) checkArgs(tp.args ?? [], path, fields.length, `${tp.subsystem}/${tp.event} has ${plural(fields.length, 'field')}, common fields included`, out);
  });
  spec.lsmhooks?.forEach((lsm, i) => {
    const path = ['spec', 'lsmhooks', i];
    const fn = [`bpf_lsm_${lsm.hook}`, `security_${lsm.hook}`].find((n) => env.btf.hasFunc(n));
    if (!fn) {
      const hooks = env.btf.funcNames().filter((n) => n.startsWith('bpf_lsm_')).map((n) => n.slice('bpf_lsm_'.length));
      out.push({ path: [...path, 'hook'], message: `LSM hook "${lsm.hook}" does not exist in this kernel${hint(lsm.hook, hooks, 0)}` });
      return;
    }
    if (fn.startsWith('security_')) {
      out.push({ path: [...path, 'hook'], severity: 'warning', message: `this kernel has ${fn} but no bpf_lsm_${lsm.hook}: BPF LSM cannot attach to it here` });
    }
    const params = env.btf.funcParams(fn);
    if (params !== undefined) checkArgs(lsm.args ?? [], path, params, `${lsm.hook} takes ${plural(params, 'argument')}`, out);
  });
  spec.uprobes?.forEach((u, i) => checkUprobeFile(u, ['spec', 'uprobes', i], out));
  spec.lists?.forEach((list, i) => {
    if (list.type === 'generated_syscalls' || list.type === 'generated_ftrace') return;
    list.values?.forEach((v, j) => {
      const found = resolveCall(env, v, list.type === 'syscalls' || v.includes('sys_'));
      if (typeof found === 'string') out.push({ path: ['spec', 'lists', i, 'values', j], message: found });
    });
  });
  return out;
}

/** The probed file is an ELF file on this host, and defines each symbol; each address falls in a loaded segment. */
function checkUprobeFile(u: UProbeSpec, path: PathSeg[], out: Finding[]): void {
  let elf: ElfFile;
  try {
    elf = ElfFile.open(u.path);
  } catch (err) {
    out.push({ path: [...path, 'path'], message: (err as VigilError).detail });
    return;
  }
  try {
    if (u.symbols?.length) {
      const names = elf.functionNames();
      u.symbols.forEach((s, j) => {
        if (!names.has(s)) out.push({ path: [...path, 'symbols', j], message: `${u.path} defines no function ${s}${hint(s, [...names], 0)}` });
      });
    }
    u.addrs?.forEach((a, j) => {
      if (elf.fileOffset(a) === undefined) out.push({ path: [...path, 'addrs', j], message: `address 0x${a.toString(16)} is in no loaded segment of ${u.path}` });
    });
  } finally {
    elf.close();
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function checkArgs(args: KProbeArg[], path: PathSeg[], count: number, why: string, out: Finding[]): void {
  args.forEach((a, j) => {
    if (a.index >= count) out.push({ path: [...path, 'args', j, 'index'], message: `index ${a.index} is out of range: ${why}` });
    if (a.sizeArgIndex !== undefined && a.sizeArgIndex > count) {
      out.push({ path: [...path, 'args', j, 'sizeArgIndex'], message: `sizeArgIndex ${a.sizeArgIndex} is out of range: ${why} (sizeArgIndex is the size arg's index plus one)` });
    }
  });
}
