// Semantic checks of one selector: each filter refers to what its hook
// declares, fits the arg's type, and stays within Vigil's limits.
import type { BinarySelector, KProbeSelector, TracingPolicySpec } from '../types.generated.js';
import { checkActions } from './actions.js';
import type { Finding } from './errors.js';
import { isReturnProbe, type Hook } from './hooks.js';
import { overLimit } from './limits.js';
import { checkMatchArg } from './match-args.js';
import { CAPABILITIES, NAMESPACES } from './names.js';
import type { PathSeg } from './path.js';
import { hint } from './suggest.js';
import { needValues, stringProblem } from './values.js';

export function checkSelector(hook: Hook, sel: KProbeSelector, path: PathSeg[], spec: TracingPolicySpec, out: Finding[]): void {
  for (const field of ['matchArgs', 'matchReturnArgs'] as const) {
    const list = sel[field] ?? [];
    overLimit(out, [...path, field], list.length, 'matchArgsPerSelector', `${field} filters`);
    list.forEach((m, i) => checkMatchArg(hook, m, [...path, field, i], field === 'matchReturnArgs', spec, out));
  }
  for (const field of ['matchReturnArgs', 'matchReturnActions'] as const) {
    if (sel[field]?.length && !isReturnProbe(hook)) {
      out.push({ path: [...path, field], at: 'key', message: `${field} works only on kprobes and uprobes with return: true` });
    }
  }
  checkActions(hook, sel.matchActions ?? [], [...path, 'matchActions'], false, spec, out);
  warnMatchesEverything(sel, path, out);
  checkActions(hook, sel.matchReturnActions ?? [], [...path, 'matchReturnActions'], true, spec, out);

  overLimit(out, [...path, 'matchPIDs'], sel.matchPIDs?.length ?? 0, 'pidFiltersPerSelector', 'matchPIDs filters');
  const bins = (sel.matchBinaries?.length ?? 0) + (sel.matchParentBinaries?.length ?? 0);
  overLimit(out, [...path, sel.matchParentBinaries?.length ? 'matchParentBinaries' : 'matchBinaries'], bins, 'binaryFiltersPerSelector',
    sel.matchParentBinaries?.length ? 'matchBinaries and matchParentBinaries filters' : 'matchBinaries filters');
  sel.matchPIDs?.forEach((m, i) => {
    const p = [...path, 'matchPIDs', i];
    if (needValues(m.values, p, out)) overLimit(out, [...p, 'values'], m.values.length, 'pidValuesPerMatch', 'PIDs');
  });
  for (const field of ['matchBinaries', 'matchParentBinaries'] as const) {
    sel[field]?.forEach((b, i) => checkBinaries(b, [...path, field, i], out));
  }
  overLimit(out, [...path, 'matchNamespaces'], sel.matchNamespaces?.length ?? 0, 'namespaceFiltersPerSelector', 'matchNamespaces filters');
  sel.matchNamespaces?.forEach((m, i) => {
    const p = [...path, 'matchNamespaces', i];
    if (!needValues(m.values, p, out)) return;
    overLimit(out, [...p, 'values'], m.values.length, 'namespaceValuesPerMatch', 'namespace values');
    m.values.forEach((v, j) => {
      if (v !== 'host_ns' && !/^\d+$/.test(v)) out.push({ path: [...p, 'values', j], message: `${JSON.stringify(v)} is neither a namespace inode number nor host_ns` });
    });
  });
  if ((sel.matchNamespaceChanges?.length ?? 0) > 1) {
    out.push({ path: [...path, 'matchNamespaceChanges', 1], message: 'a selector takes one matchNamespaceChanges filter' });
  }
  sel.matchNamespaceChanges?.forEach((m, i) => names(m.values, [...path, 'matchNamespaceChanges', i], NAMESPACES, 'namespace', out));
  const caps = (sel.matchCapabilities?.length ?? 0) + (sel.matchCapabilityChanges?.length ?? 0);
  overLimit(out, [...path, sel.matchCapabilityChanges?.length ? 'matchCapabilityChanges' : 'matchCapabilities'], caps, 'capabilityFiltersPerSelector',
    'matchCapabilities and matchCapabilityChanges filters');
  for (const field of ['matchCapabilities', 'matchCapabilityChanges'] as const) {
    sel[field]?.forEach((m, i) => names(m.values, [...path, field, i], CAPABILITIES, 'capability', out));
  }
}

function names(values: string[], path: PathSeg[], known: readonly string[], what: string, out: Finding[]): void {
  if (!needValues(values, path, out)) return;
  values.forEach((v, j) => {
    if (!known.includes(v)) out.push({ path: [...path, 'values', j], message: `unknown ${what} ${JSON.stringify(v)}${hint(v, known, 0)}` });
  });
}

function checkBinaries(b: BinarySelector, path: PathSeg[], out: Finding[]): void {
  if (b.followChildren && path.includes('matchParentBinaries')) {
    out.push({ path: [...path, 'followChildren'], message: 'followChildren works only on matchBinaries' });
  }
  if (b.followChildren && b.operator !== 'In') {
    out.push({ path: [...path, 'followChildren'], message: `followChildren works only with operator In, not ${b.operator}` });
  }
  if (!needValues(b.values, path, out)) return;
  overLimit(out, [...path, 'values'], b.values.length, 'mapValuesPerMatch', 'binaries');
  b.values.forEach((v, j) => {
    const tooLong = stringProblem(v, b.operator);
    if (tooLong) out.push({ path: [...path, 'values', j], message: tooLong });
    else if ((b.operator === 'In' || b.operator === 'NotIn') && !v.startsWith('/')) {
      out.push({ path: [...path, 'values', j], severity: 'warning', message: `${JSON.stringify(v)} is not an absolute path; ${b.operator} compares the whole path of the executed file` });
    }
  });
}

const ENFORCING = new Set(['Sigkill', 'Signal', 'Override']);

/** An empty Prefix or Postfix value matches every string; on an enforcing selector that acts on every call. */
function warnMatchesEverything(sel: KProbeSelector, path: PathSeg[], out: Finding[]): void {
  const acts = (sel.matchActions ?? []).map((a) => a.action).filter((a) => ENFORCING.has(a));
  const check = (field: string, i: number, operator: string, values: string[] | undefined) => {
    const j = (values ?? []).indexOf('');
    if (j < 0 || !/^(Not)?(Prefix|Postfix)$/.test(operator)) return;
    const what = operator.startsWith('Not') ? 'matches no value' : 'matches every value';
    const then = acts.length && !operator.startsWith('Not') ? `: this selector's ${acts.join(' and ')} acts on every call that passes its other filters` : '';
    out.push({ path: [...path, field, i, 'values', j], severity: 'warning', message: `an empty ${operator} value ${what}${then}` });
  };
  (sel.matchArgs ?? []).forEach((m, i) => check('matchArgs', i, m.operator, m.values));
  (sel.matchBinaries ?? []).forEach((m, i) => check('matchBinaries', i, m.operator, m.values));
}
