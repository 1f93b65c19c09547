// Between the schema and semantics: `spec.selectorsMacros` are merged into
// the selectors that name them in `macros`, so every later layer and the
// compiler see plain selectors. A field (matchArgs, matchActions…) comes
// from the selector or from one macro, never from two; a macro names no
// other macros. Findings of later layers on a merged field are moved back
// to the macro that wrote it (see MacroOrigins).
import type { KProbeSelector, TracingPolicySpec } from '../types.generated.js';
import type { Finding } from './errors.js';
import { hooksOf } from './hooks.js';
import { formatPath, type PathSeg } from './path.js';

/** The filters and actions a macro gives (the schema refuses matchData and matchWorkloads). */
const FIELDS = [
  'matchPIDs', 'matchArgs', 'matchActions', 'matchReturnArgs', 'matchReturnActions', 'matchBinaries',
  'matchParentBinaries', 'matchNamespaces', 'matchNamespaceChanges', 'matchCapabilities', 'matchCapabilityChanges',
] as const satisfies readonly (keyof KProbeSelector)[];
type Field = (typeof FIELDS)[number];

/** Where a merged field came from: selector path + field, and the macro's path + field. */
interface Origin { at: PathSeg[]; from: PathSeg[]; usedBy: string }

export class MacroOrigins {
  constructor(private readonly origins: Origin[] = []) {}
  add(o: Origin): void {
    this.origins.push(o);
  }
  /** A finding on a merged field, placed at the macro that wrote it. */
  map(f: Finding): Finding {
    const o = this.origins.find((x) => x.at.every((seg, i) => f.path[i] === seg));
    if (!o) return f;
    return { ...f, path: [...o.from, ...f.path.slice(o.at.length)], message: `${f.message} (in the macro, as used by ${o.usedBy})` };
  }
}

/** Merges the macros into the selectors of `spec`, in place. */
export function expandMacros(spec: TracingPolicySpec, origins: MacroOrigins): Finding[] {
  const out: Finding[] = [];
  const macros = spec.selectorsMacros ?? {};
  const used = new Set<string>();
  for (const [name, m] of Object.entries(macros)) {
    if (m?.macros?.length) out.push({ path: ['spec', 'selectorsMacros', name, 'macros'], at: 'key', message: 'a macro cannot use other macros' });
  }
  for (const hook of hooksOf(spec)) {
    hook.selectors.forEach((sel, si) => {
      const selPath = [...hook.path, 'selectors', si];
      const names = sel.macros ?? [];
      delete sel.macros;
      const owner = new Map<Field, string>();
      for (const f of FIELDS) if (sel[f]?.length) owner.set(f, 'the selector');
      names.forEach((name, ni) => {
        const p = [...selPath, 'macros', ni];
        const m = Object.hasOwn(macros, name) ? macros[name] : undefined;
        if (!m) {
          const known = Object.keys(macros);
          out.push({ path: p, message: `macro "${name}" is not defined in spec.selectorsMacros${known.length ? ` (defined: ${known.join(', ')})` : ' (it defines none)'}` });
          return;
        }
        used.add(name);
        if (m.macros?.length) return;
        for (const f of FIELDS) {
          const part = m[f];
          if (!part?.length) continue;
          const before = owner.get(f);
          if (before) {
            out.push({ path: p, message: `macro "${name}" sets ${f}, which ${before} sets too: a field comes from the selector or from one macro` });
            continue;
          }
          owner.set(f, `macro "${name}"`);
          origins.add({ at: [...selPath, f], from: ['spec', 'selectorsMacros', name, f], usedBy: formatPath(selPath) });
          (sel as Record<Field, unknown[]>)[f] = structuredClone(part);
        }
      });
    });
  }
  for (const name of Object.keys(macros)) {
    if (!used.has(name)) out.push({ path: ['spec', 'selectorsMacros', name], at: 'key', severity: 'warning', message: `macro "${name}" is used by no selector` });
  }
  return out;
}
