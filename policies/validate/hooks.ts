// The hooks of a policy, one shape for kprobes, tracepoints, lsmhooks and uprobes.
import type { KProbeArg, KProbeSelector, KProbeSpec, TracingPolicySpec, UProbeSpec } from '../types.generated.js';
import type { PathSeg } from './path.js';

export type HookKind = 'kprobe' | 'tracepoint' | 'lsmhook' | 'uprobe';

export interface Hook {
  kind: HookKind;
  /** e.g. ['spec', 'kprobes', 0] */
  path: PathSeg[];
  /** For messages: fd_install, sched/sched_process_exec, file_open. */
  name: string;
  args: KProbeArg[];
  selectors: KProbeSelector[];
  /** Set for kprobes. */
  kprobe?: KProbeSpec;
  /** Set for uprobes. */
  uprobe?: UProbeSpec;
}

/** A return probe (return: true): its returnArg, matchReturnArgs and returnCopy apply. */
export const isReturnProbe = (hook: Hook): boolean => (hook.kprobe ?? hook.uprobe)?.return === true;
/** The hook's returnArg, on kprobes and uprobes. */
export const returnArgOf = (hook: Hook): KProbeArg | undefined => (hook.kprobe ?? hook.uprobe)?.returnArg;

export function hooksOf(spec: TracingPolicySpec): Hook[] {
  return [
    ...(spec.kprobes ?? []).map((k, i): Hook => ({
      kind: 'kprobe', path: ['spec', 'kprobes', i], name: k.call, args: k.args ?? [], selectors: k.selectors ?? [], kprobe: k,
    })),
    ...(spec.tracepoints ?? []).map((t, i): Hook => ({
      kind: 'tracepoint', path: ['spec', 'tracepoints', i], name: `${t.subsystem}/${t.event}`, args: t.args ?? [], selectors: t.selectors ?? [],
    })),
    ...(spec.lsmhooks ?? []).map((l, i): Hook => ({
      kind: 'lsmhook', path: ['spec', 'lsmhooks', i], name: l.hook, args: l.args ?? [], selectors: l.selectors ?? [],
    })),
    ...(spec.uprobes ?? []).map((u, i): Hook => ({
      kind: 'uprobe', path: ['spec', 'uprobes', i], name: u.path, args: u.args ?? [], selectors: u.selectors ?? [], uprobe: u,
    })),
  ];
}

/**
 * The declared arg a matchArgs index names. On tracepoints, as Tetragon reads
 * them, a position in the hook's args list (args: [{index: 4}] is matched as
 * index 0); an index past the list that equals a declared arg's index names
 * that arg. Elsewhere, the arg whose index it is.
 */
export function filteredArg(hook: Pick<Hook, 'kind' | 'args'>, index: number): KProbeArg | undefined {
  if (hook.kind === 'tracepoint') return hook.args[index] ?? hook.args.find((a) => a.index === index);
  return hook.args.find((a) => a.index === index);
}

/** The declared arg with this index. */
export const argAt = (hook: Hook, index: number): KProbeArg | undefined => hook.args.find((a) => a.index === index);

export const declaredIndexes = (hook: Hook): string =>
  hook.args.length ? `declared: ${hook.args.map((a) => a.index).join(', ')}` : 'the hook declares no args';
