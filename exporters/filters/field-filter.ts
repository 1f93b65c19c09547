// Tetragon's field filters (--field-filters): which fields of an event's
// body are exported. One JSON object a line:
//   {"fields": "process.binary,parent.binary", "action": "INCLUDE",
//    "event_set": ["PROCESS_EXEC"], "invert_event_set": false}
// Paths are field-mask paths below the event's kind (process_exec, ...), in
// snake_case or lowerCamelCase; a path keeps or drops its whole subtree, and
// a path through a list applies to each element. INCLUDE keeps only the
// paths, EXCLUDE drops them. The filters apply in order; one with an
// event_set applies to those types only (with invert_event_set, to all the
// others). node_name and time are always kept.
import { VigilError } from '../../kernel/errors.js';
import { EVENT_TYPES, type TetragonEvent } from '../tetragon.js';
import { eventSet, eventTypeName } from './event-types.js';
import { bool, jsonObjects, onlyKeys } from './json-lines.js';

/** A path tree; true is a leaf: the whole subtree. */
interface Mask { [key: string]: Mask | true }

export interface FieldFilter {
  action: 'INCLUDE' | 'EXCLUDE';
  mask: Mask;
  eventSet?: Set<string>;
  invert: boolean;
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function maskOf(fields: string): Mask {
  const root: Mask = {};
  for (const path of fields.split(',').map((p) => p.trim()).filter(Boolean)) {
    const parts = path.split('.').map(snake);
    let node: Mask = root;
    for (let i = 0; i < parts.length; i++) {
      const sub = node[parts[i]];
      if (sub === true) break; // a shorter path already took the subtree
      if (i === parts.length - 1) node[parts[i]] = true;
      else node = node[parts[i]] = sub ?? {};
    }
  }
  return root;
}

export function fieldFilters(text: string, flag: string): FieldFilter[] {
  return jsonObjects(text, flag).map((obj, i) => {
    const where = `${flag} line ${i + 1}`;
    onlyKeys(obj, ['fields', 'action', 'event_set', 'invert_event_set'], where);
    if (typeof obj.fields !== 'string' || !obj.fields.trim()) throw new VigilError('VIGIL_USAGE', `${where}.fields: expected paths such as "process.binary,parent.binary"`);
    const action = obj.action ?? 'INCLUDE';
    if (action !== 'INCLUDE' && action !== 'EXCLUDE' && action !== 0 && action !== 1) {
      throw new VigilError('VIGIL_USAGE', `${where}.action: INCLUDE or EXCLUDE, got ${JSON.stringify(action)}`);
    }
    return {
      action: action === 'EXCLUDE' || action === 1 ? 'EXCLUDE' : 'INCLUDE',
      mask: maskOf(obj.fields),
      eventSet: obj.event_set === undefined ? undefined : eventSet(obj.event_set, `${where}.event_set`),
      invert: obj.invert_event_set === undefined ? false : bool(obj.invert_event_set, `${where}.invert_event_set`),
    };
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function include(v: unknown, mask: Mask | true): unknown {
  if (mask === true) return v;
  if (Array.isArray(v)) return v.map((x) => include(x, mask));
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(mask)) if (v[k] !== undefined) out[k] = include(v[k], sub);
  return out;
}

function exclude(v: unknown, mask: Mask): unknown {
  if (Array.isArray(v)) return v.map((x) => exclude(x, mask));
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = { ...v };
  for (const [k, sub] of Object.entries(mask)) {
    if (sub === true) delete out[k];
    else if (out[k] !== undefined) out[k] = exclude(out[k], sub);
  }
  return out;
}

/** The event with the filters applied; the same object when none applies. */
export function applyFieldFilters(filters: FieldFilter[], ev: TetragonEvent): TetragonEvent {
  const kind = EVENT_TYPES.find((k) => ev[k] !== undefined);
  if (!kind) return ev;
  const type = eventTypeName(ev);
  let body: unknown = ev[kind];
  for (const f of filters) {
    if (f.eventSet?.size && f.eventSet.has(type) === f.invert) continue;
    body = f.action === 'INCLUDE' ? include(body, f.mask) : exclude(body, f.mask);
  }
  return body === ev[kind] ? ev : { ...ev, [kind]: body };
}
