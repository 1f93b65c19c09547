// A kernel described as data, for the compiler's unit tests: the features
// it has, and facts that hold everywhere else (every tracepoint exists, the
// host's namespaces, the cgroup root). Tests against the running kernel use
// the real probe instead (lib/kernel.ts).
import type { KernelFacts } from '../../kernel/facts.js';

export const FEATURE_IDS = ['tracepoints', 'tp_btf', 'kprobes', 'kretprobes', 'fentry', 'fexit', 'fmod_ret', 'bpf_lsm', 'bpf_send_signal', 'cgroup_hooks', 'cgroup_scope'];

export function describedKernel(works: string[], more: Partial<KernelFacts> & { noTracepoints?: string[] } = {}): KernelFacts {
  const { noTracepoints = [], ...facts } = more;
  return {
    arch: 'x64',
    features: FEATURE_IDS.map((f) => ({ feature: f, works: works.includes(f), reason: works.includes(f) ? undefined : 'attach failed: the probe program on security_file_open' })),
    tracepointFields: (_s, e) => (noTracepoints.includes(e) ? undefined : []),
    hostNamespace: () => 4026531836,
    modifiableReturn: (fn) => (fn.startsWith('security_') ? true : undefined),
    cgroupRoot: () => '/sys/fs/cgroup',
    ...facts,
  };
}

/** This project's build machine: tracepoints, tp_btf, cgroup hooks, cgroup scopes and bpf_send_signal; no kprobes, fentry or LSM. */
export const HOST_LIKE = describedKernel(['tracepoints', 'tp_btf', 'bpf_send_signal', 'cgroup_hooks', 'cgroup_scope']);
/** Debian's stock kernel: everything. */
export const STOCK_LIKE = describedKernel(FEATURE_IDS);
