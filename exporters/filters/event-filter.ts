// Tetragon's export filters (--export-allowlist, --export-denylist): one
// JSON object a line, its fields ANDed, the lines ORed. With an allowlist
// only the events it matches are exported; the denylist wins over it.
// Field by field as Tetragon's pkg/filters reads them: regexes are RE2 and
// match anywhere in the string; a field about the pod never matches an
// event without one (but namespace "" means "no pod"). Fields Vigil cannot
// evaluate (cel_expression, pid_set) are refused, never ignored: a filter
// silently dropped would export what the operator meant to keep out.
import { VigilError } from '../../kernel/errors.js';
import type { TetragonEvent, TetragonProcess, TetragonProcessStub } from '../tetragon.js';
import { CAPABILITIES } from '../../kernel/caps.js';
import { eventSet, eventTypeName } from './event-types.js';
import { bool, jsonObjects, onlyKeys, strings } from './json-lines.js';
import { labelSelector } from './labels.js';
import { anyMatch, re2 } from './re2.js';

export type EventPredicate = (ev: TetragonEvent) => boolean;

export interface FilterContext {
  /**
   * The event types the agent adds ancestors to (--enable-ancestors), as
   * PROCESS_EXEC names; true: any (the live tail, which cannot know).
   * ancestor_binary_regex needs them.
   */
  ancestors: boolean | ReadonlySet<string>;
}

const FIELDS = [
  'binary_regex', 'namespace', 'health_check', 'pid', 'pid_set', 'event_set', 'pod_regex', 'arguments_regex', 'labels',
  'policy_names', 'capabilities', 'parent_binary_regex', 'cel_expression', 'parent_arguments_regex', 'container_id',
  'in_init_tree', 'ancestor_binary_regex',
] as const;

type Proc = TetragonProcess | TetragonProcessStub | undefined;

function subject(ev: TetragonEvent): { process?: Proc; parent?: TetragonProcess; ancestors?: TetragonProcess[]; policy?: string } {
  const body = ev.process_exec ?? ev.process_exit ?? ev.process_kprobe ?? ev.process_tracepoint ?? ev.process_uprobe ?? ev.process_lsm;
  if (!body) return {};
  const policy = ev.process_kprobe?.policy_name ?? ev.process_tracepoint?.policy_name ?? ev.process_uprobe?.policy_name ?? ev.process_lsm?.policy_name;
  return { process: body.process, parent: body.parent, ancestors: body.ancestors, policy };
}

const field = <K extends keyof TetragonProcess>(p: Proc, k: K): TetragonProcess[K] | undefined => (p as TetragonProcess | undefined)?.[k];

/** Tetragon's capability enum names lack CAP_ after CAP_CHOWN; either spelling names the same one. */
const capKey = (name: string): string => name.replace(/^CAP_/, '');
const CAP_KEYS = new Set(CAPABILITIES.map(capKey));

function capFilter(v: unknown, where: string): (p: Proc) => boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new VigilError('VIGIL_USAGE', `${where}: expected an object of permitted, effective, inheritable`);
  const obj = v as Record<string, unknown>;
  onlyKeys(obj, ['permitted', 'effective', 'inheritable'], where);
  const sets = Object.entries(obj).map(([which, set]) => {
    const at = `${where}.${which}`;
    if (set === null || typeof set !== 'object' || Array.isArray(set)) throw new VigilError('VIGIL_USAGE', `${at}: expected one of any, all, exactly, none`);
    const kinds = Object.keys(set);
    onlyKeys(set as Record<string, unknown>, ['any', 'all', 'exactly', 'none'], at);
    if (kinds.length !== 1) throw new VigilError('VIGIL_USAGE', `${at}: a capability filter defines exactly one match set, got ${kinds.join(', ') || 'none'}`);
    const kind = kinds[0];
    const want = strings((set as Record<string, unknown>)[kind], `${at}.${kind}`).map((n) => {
      if (!CAP_KEYS.has(capKey(n))) throw new VigilError('VIGIL_USAGE', `${at}.${kind}: unknown capability ${JSON.stringify(n)}`);
      return capKey(n);
    });
    return { which: which as 'permitted' | 'effective' | 'inheritable', kind, want: new Set(want) };
  });
  return (p) => {
    const cap = field(p, 'cap');
    if (!cap) return false;
    return sets.every(({ which, kind, want }) => {
      const have = new Set((cap[which] ?? []).map((c) => capKey(String(c))));
      const shared = [...want].filter((c) => have.has(c)).length;
      if (kind === 'any') return shared > 0;
      if (kind === 'all') return shared === want.size;
      if (kind === 'exactly') return shared === want.size && have.size === want.size;
      return shared === 0;
    });
  };
}

const canBeHealthCheck = (p: Proc): boolean => field(p, 'pod')?.container?.maybe_exec_probe === true;

/** One filter line: the AND of its fields; no field matches every event. */
export function eventFilter(obj: Record<string, unknown>, where: string, ctx: FilterContext): EventPredicate {
  onlyKeys(obj, FIELDS, where);
  const tests: EventPredicate[] = [];
  const at = (k: string): string => `${where}.${k}`;
  const regexes = (k: string): ReturnType<typeof re2>[] => strings(obj[k], at(k)).map((p) => re2(p, at(k)));
  for (const [k, v] of Object.entries(obj)) {
    switch (k as (typeof FIELDS)[number]) {
      case 'binary_regex': {
        const res = regexes(k);
        tests.push((ev) => { const p = subject(ev).process; return p !== undefined && anyMatch(res, field(p, 'binary') ?? ''); });
        break;
      }
      case 'parent_binary_regex': {
        const res = regexes(k);
        tests.push((ev) => { const p = subject(ev).parent; return p !== undefined && anyMatch(res, p.binary); });
        break;
      }
      case 'ancestor_binary_regex': {
        const types = obj.event_set === undefined ? undefined : eventSet(obj.event_set, at('event_set'));
        const has = (t: string): boolean => ctx.ancestors === true || (ctx.ancestors !== false && ctx.ancestors.has(t));
        if (!types || [...types].some((t) => !has(t))) {
          const kinds = ctx.ancestors === false ? 'no event type' : [...(ctx.ancestors === true ? [] : ctx.ancestors)].join(', ');
          throw new VigilError('VIGIL_USAGE', `${at(k)}: ancestors are only in the event types --enable-ancestors names (here: ${kinds}): give an "event_set" of those`);
        }
        const res = regexes(k);
        tests.push((ev) => (subject(ev).ancestors ?? []).some((a) => anyMatch(res, a.binary)));
        break;
      }
      case 'arguments_regex': {
        const res = regexes(k);
        tests.push((ev) => { const p = subject(ev).process; return p !== undefined && anyMatch(res, field(p, 'arguments') ?? ''); });
        break;
      }
      case 'parent_arguments_regex': {
        const res = regexes(k);
        tests.push((ev) => { const p = subject(ev).parent; return p !== undefined && anyMatch(res, p.arguments ?? ''); });
        break;
      }
      case 'container_id': {
        const res = regexes(k);
        tests.push((ev) => { const p = subject(ev).process; return p !== undefined && anyMatch(res, field(p, 'docker') ?? ''); });
        break;
      }
      case 'pod_regex': {
        const res = regexes(k);
        tests.push((ev) => { const pod = field(subject(ev).process, 'pod'); return pod !== undefined && anyMatch(res, pod.name); });
        break;
      }
      case 'namespace': {
        const names = strings(v, at(k));
        tests.push((ev) => {
          const { process } = subject(ev);
          if (!process) return false;
          const pod = field(process, 'pod');
          return names.some((n) => (pod ? n === pod.namespace : n === ''));
        });
        break;
      }
      case 'labels': {
        const selectors = strings(v, at(k)).map((s) => labelSelector(s, at(k)));
        tests.push((ev) => { const pod = field(subject(ev).process, 'pod'); return pod !== undefined && selectors.some((s) => s(pod.pod_labels)); });
        break;
      }
      case 'pid': {
        if (!Array.isArray(v) || v.some((n) => !Number.isInteger(n) || n < 0)) throw new VigilError('VIGIL_USAGE', `${at(k)}: expected a list of pids, got ${JSON.stringify(v)}`);
        const pids = new Set(v as number[]);
        tests.push((ev) => { const p = subject(ev).process; return p !== undefined && pids.has(p.pid); });
        break;
      }
      case 'event_set': {
        const types = eventSet(v, at(k));
        tests.push((ev) => types.has(eventTypeName(ev)));
        break;
      }
      case 'policy_names': {
        const names = strings(v, at(k));
        tests.push((ev) => { const { policy } = subject(ev); return !!policy && names.includes(policy); });
        break;
      }
      case 'health_check': {
        const want = bool(v, at(k));
        tests.push((ev) => {
          const { process, parent } = subject(ev);
          const maybe = canBeHealthCheck(process) || canBeHealthCheck(parent);
          return want ? maybe : !maybe;
        });
        break;
      }
      case 'in_init_tree': {
        const want = bool(v, at(k));
        tests.push((ev) => (field(subject(ev).process, 'in_init_tree') ?? false) === want);
        break;
      }
      case 'capabilities': {
        const caps = capFilter(v, at(k));
        tests.push((ev) => caps(subject(ev).process));
        break;
      }
      case 'pid_set':
        throw new VigilError('VIGIL_USAGE', `${at(k)}: not supported; Tetragon keeps pid_set for testing only (--enable-pid-set-filter). Use pid, or binary_regex and parent_binary_regex`);
      case 'cel_expression':
        throw new VigilError('VIGIL_USAGE', `${at(k)}: CEL expressions are not supported by Vigil; use the other filter fields`);
    }
  }
  return (ev) => tests.every((test) => test(ev));
}

/** The filters of a flag's value: one a line. */
export function filterList(text: string, flag: string, ctx: FilterContext): EventPredicate[] {
  return jsonObjects(text, flag).map((obj, i) => eventFilter(obj, `${flag} line ${i + 1}`, ctx));
}

/** Allowlist and denylist together: what is exported. */
export function exportFilter(allow: EventPredicate[], deny: EventPredicate[]): EventPredicate {
  return (ev) => (!allow.length || allow.some((f) => f(ev))) && !deny.some((f) => f(ev));
}
