// Layer 3: what the schema cannot say. Args and filters refer to what their
// hook declares, operators fit arg types, values parse, actions run only
// where they can, lists resolve, and Vigil's limits (limits.ts) hold.
import type { LabelSelector, TracingPolicy, TracingPolicySpec } from '../types.generated.js';
import type { Finding } from './errors.js';
import { hooksOf, isReturnProbe, type Hook } from './hooks.js';
import { overLimit } from './limits.js';
import { checkLists, listRefProblem } from './lists.js';
import type { PathSeg } from './path.js';
import { checkSelector } from './selectors.js';
import { checkOptions } from './options.js';
import { canonicalArgType } from '../compiler/plan.js';

/** Why some types are not read, where it helps to say. */
const UNREAD: Record<string, string> = {
  auto: 'name the type (Vigil does not take it from BTF)',
  filename: 'use string on the syscall\'s filename, or file/path on the kernel object',
  const_buf: 'char_buf with sizeArgIndex reads a buffer whose size another arg gives',
  kiocb: 'hook a function that takes the struct file * and read it as file',
  iov_iter: 'its segments are of several kinds (user and kernel iovecs, pipes, pages); use char_iovec on a struct iovec *',
  sockaddr_un: 'use sockaddr: an AF_UNIX address prints as sockaddrun_arg',
};

export function checkSemantics(policy: TracingPolicy): Finding[] {
  const out: Finding[] = [];
  const { spec } = policy;
  const hooks = hooksOf(spec);
  if (!hooks.length) out.push({ path: ['spec'], severity: 'warning', message: 'the policy hooks nothing: it has no kprobes, tracepoints, lsmhooks or uprobes' });
  overLimit(out, ['spec'], hooks.length, 'hooksPerPolicy', 'hooks');
  checkLists(spec, out);
  checkOptions(spec, out);
  for (const hook of hooks) checkHook(hook, spec, out);
  checkLabels(spec.podSelector, ['spec', 'podSelector'], out);
  checkLabels(spec.containerSelector, ['spec', 'containerSelector'], out);
  if (policy.kind === 'TracingPolicy' && policy.metadata.namespace !== undefined) {
    out.push({ path: ['metadata', 'namespace'], severity: 'warning', message: 'a TracingPolicy applies to every namespace; use kind TracingPolicyNamespaced to limit it to one' });
  }
  return out;
}

function checkHook(hook: Hook, spec: TracingPolicySpec, out: Finding[]): void {
  overLimit(out, [...hook.path, 'args'], hook.args.length, 'argsPerHook', 'args');
  const seen = new Set<number>();
  const ret = (hook.kprobe ?? hook.uprobe)?.returnArg;
  const readable = [...hook.args.map((a, i) => [a, [...hook.path, 'args', i]] as const), ...(ret && isReturnProbe(hook) ? [[ret, [...hook.path, 'returnArg']] as const] : [])];
  for (const [a, p] of readable) {
    // What the loader would refuse is refused here, where the policy is written.
    if (a.type !== 'nop' && !canonicalArgType(a.type)) out.push({ path: [...p, 'type'], message: `argument type ${a.type} is not read by Vigil's kernel programs yet${UNREAD[a.type] ? `: ${UNREAD[a.type]}` : ''}` });
  }
  hook.args.forEach((a, i) => {
    const p = [...hook.path, 'args', i];
    if (seen.has(a.index)) out.push({ path: [...p, 'index'], severity: 'warning', message: `index ${a.index} is declared twice` });
    seen.add(a.index);
    const buffer = a.type === 'char_buf' || a.type === 'char_iovec';
    for (const field of ['sizeArgIndex', 'returnCopy'] as const) {
      if (a[field] !== undefined && !buffer) out.push({ path: [...p, field], at: 'key', severity: 'warning', message: `${field} applies only to char_buf and char_iovec args` });
    }
    if (a.maxData && a.type !== 'char_buf') out.push({ path: [...p, 'maxData'], at: 'key', severity: 'warning', message: 'maxData applies only to char_buf args' });
    if (a.type === 'data_loc' && hook.kind !== 'tracepoint') out.push({ path: [...p, 'type'], message: 'data_loc reads a __data_loc field of a tracepoint\'s record' });
    if (a.returnCopy && hook.kind !== 'kprobe' && hook.kind !== 'uprobe') out.push({ path: [...p, 'returnCopy'], message: 'returnCopy needs a kprobe or uprobe: the buffer is read at return' });
    else if (a.returnCopy && !isReturnProbe(hook)) out.push({ path: [...p, 'returnCopy'], message: `returnCopy reads the buffer at return: the ${hook.kind} needs return: true and a returnArg` });
    if (buffer && a.sizeArgIndex) {
      const size = hook.args.find((x) => x.index === a.sizeArgIndex! - 1);
      if (!size) out.push({ path: [...p, 'sizeArgIndex'], message: `sizeArgIndex ${a.sizeArgIndex} names arg index ${a.sizeArgIndex - 1} (sizeArgIndex is the index plus one), which the hook does not declare` });
    } else if (buffer && !(a.type === 'char_buf' && a.returnCopy)) {
      out.push({ path: [...p, 'type'], message: `${a.type} needs sizeArgIndex, the index of its ${a.type === 'char_iovec' ? 'count' : 'size'} arg plus one${a.type === 'char_buf' ? ', or returnCopy, where the return value is the size' : ''}` });
    }
  });
  const kp = hook.kprobe;
  if (kp) {
    const problem = kp.call.startsWith('list:') ? listRefProblem(kp.call.slice(5), spec) : undefined;
    if (problem) out.push({ path: [...hook.path, 'call'], message: problem });
    if (kp.return && !kp.returnArg) out.push({ path: [...hook.path, 'return'], message: 'return: true needs a returnArg, the return value to read' });
    // Tetragon ignores them without return: true, and so does Vigil.
    for (const field of ['returnArg', 'returnArgAction'] as const) {
      if (!kp.return && kp[field] !== undefined) out.push({ path: [...hook.path, field], at: 'key', severity: 'warning', message: `${field} is ignored without return: true` });
    }
    // Post is what a return probe does anyway; the socket-tracking actions are not.
    if (kp.return && kp.returnArgAction !== undefined && kp.returnArgAction !== 'Post') {
      out.push({ path: [...hook.path, 'returnArgAction'], message: `returnArgAction ${kp.returnArgAction} is not supported by Vigil: sockets are not tracked, as Vigil keeps no map from sockets to the processes that own them` });
    }
  }
  if (hook.uprobe) checkUprobe(hook, out);
  overLimit(out, [...hook.path, 'selectors'], hook.selectors.length, 'selectorsPerHook', 'selectors');
  hook.selectors.forEach((s, i) => checkSelector(hook, s, [...hook.path, 'selectors', i], spec, out));
}

/** Exactly one of symbols, offsets and addrs; a refCtrOffset for each, when given; return and returnArg together. */
function checkUprobe(hook: Hook, out: Finding[]): void {
  const u = hook.uprobe!;
  const given = (['symbols', 'offsets', 'addrs'] as const).filter((k) => u[k] !== undefined);
  const nonEmpty = given.filter((k) => u[k]!.length);
  if (nonEmpty.length !== 1) {
    out.push({ path: given.length > 1 ? [...hook.path, given[1]] : hook.path, at: given.length > 1 ? 'key' : undefined, message: `a uprobe needs exactly one of symbols, offsets and addrs, not empty${given.length > 1 ? `; it has ${given.join(' and ')}` : ''}` });
  }
  const n = nonEmpty.length === 1 ? u[nonEmpty[0]]!.length : 0;
  if (u.refCtrOffsets?.length && n && u.refCtrOffsets.length !== n) {
    out.push({ path: [...hook.path, 'refCtrOffsets'], message: `refCtrOffsets has ${u.refCtrOffsets.length} entries and ${nonEmpty[0]} ${n}: one reference counter for each probe` });
  }
  if (!u.path.startsWith('/')) out.push({ path: [...hook.path, 'path'], message: `${JSON.stringify(u.path)} is not an absolute path` });
  overLimit(out, [...hook.path, nonEmpty[0] ?? 'symbols'], n, 'functionsPerList', 'probes');
  if (u.return && !u.returnArg) out.push({ path: [...hook.path, 'return'], message: 'return: true needs a returnArg, the return value to read' });
  if (!u.return && u.returnArg) out.push({ path: [...hook.path, 'returnArg'], at: 'key', severity: 'warning', message: 'returnArg is ignored without return: true' });
}

function checkLabels(sel: LabelSelector | undefined, path: PathSeg[], out: Finding[]): void {
  const container = path[path.length - 1] === 'containerSelector';
  for (const key of Object.keys(sel?.matchLabels ?? {})) {
    if (container && key !== 'name') out.push({ path: [...path, 'matchLabels', key], at: 'key', message: `containerSelector matches only the "name" field, not "${key}"` });
  }
  sel?.matchExpressions?.forEach((e, i) => {
    const p = [...path, 'matchExpressions', i];
    if (container && e.key !== 'name') out.push({ path: [...p, 'key'], message: `containerSelector matches only the "name" field, not "${e.key}"` });
    const takesValues = e.operator === 'In' || e.operator === 'NotIn';
    if (takesValues && !e.values?.length) out.push({ path: p, message: `operator ${e.operator} needs at least one value` });
    if (!takesValues && e.values?.length) out.push({ path: [...p, 'values'], message: `operator ${e.operator} takes no values` });
  });
}
