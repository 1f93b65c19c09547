// Readable messages for ajv's errors on Tetragon's event schema: one per
// problem, on the field path (process_exec.process.cap.permitted[0]), saying
// what protojson or Tetragon's writer would make of the value.
import type { ErrorObject } from 'ajv';
import { formatPath, fromPointer } from '../../policies/validate/path.js';
import { closest } from '../../policies/validate/suggest.js';
import { calendarDay, DEFS, INT_RANGES, JSON_NAMES, type Def } from './tetragon-schema-defs.js';

export type TetragonForm = 'parsed' | 'written';

/** What Tetragon writes for a scalar kind, for messages on the written form. */
const WRITTEN_AS: Record<string, string> = {
  int32: 'a JSON number', uint32: 'a JSON number', int64: 'a decimal string', uint64: 'a decimal string',
  bytes: 'standard base64 with padding', Timestamp: 'RFC 3339 in UTC (Z) with 0, 3, 6 or 9 fractional digits',
};

/** One message a problem, from ajv's errors (one a failed keyword or branch). */
export function explain(errors: ErrorObject[], root: unknown, form: TetragonForm): string[] {
  const isScalar = (d: Def | undefined): boolean => Boolean(d?.title && !d.properties);
  // A scalar that fails its definition gets one message, whichever branches of it failed.
  const scalarAt = new Map<string, ErrorObject>();
  for (const e of errors) if (isScalar(e.parentSchema as Def) && !scalarAt.has(e.instancePath)) scalarAt.set(e.instancePath, e);
  // A value of the wrong type fails everything else at its path too.
  const mistyped = new Set(errors.filter((e) => e.keyword === 'type' && !scalarAt.has(e.instancePath)).map((e) => e.instancePath));
  const out: string[] = [];
  const add = (text: string): void => void (out.includes(text) || out.push(text));
  for (const e of errors) {
    const scalar = scalarAt.get(e.instancePath);
    if (scalar) {
      if (e === scalar) add(scalarMessage(e, root, form));
    } else if (mistyped.has(e.instancePath)) {
      if (e.keyword === 'type') add(message(e, root, form));
    } else if (!BRANCH_DETAIL.has(e.keyword) || (e.keyword === 'not' && e.schemaPath.includes('/dependencies/'))) {
      add(message(e, root, form));
    }
  }
  return out;
}

/** Errors that only say why one branch of a oneof check failed; the oneOf or maxProperties error says it all. */
const BRANCH_DETAIL = new Set(['if', 'required', 'anyOf', 'not']);

const at = (e: ErrorObject, root: unknown): string => formatPath(fromPointer(e.instancePath, root)) || 'line';
const article = (word: string): string => (/^[aeio]/i.test(word) ? `an ${word}` : `a ${word}`);

function scalarMessage(e: ErrorObject, root: unknown, form: TetragonForm): string {
  const def = e.parentSchema as Def;
  return `${at(e, root)}: ${show(e.data)} is not ${article(def.title!)}${scalarHint(def, e.data, form)}`;
}

function message(e: ErrorObject, root: unknown, form: TetragonForm): string {
  const segs = fromPointer(e.instancePath, root);
  const where = at(e, root);
  const def = (e.parentSchema ?? {}) as Def;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      if (def.title) return `${where}: expected ${article(def.title)} (a JSON object), got ${show(e.data)}`;
      return `${where}: expected ${p.type === 'array' ? 'a list (repeated field)' : 'a map (JSON object)'}, got ${show(e.data)}`;
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      return `${formatPath([...segs, key])}: unknown field "${key}" in ${def.title ?? 'this object'}${fieldHint(def, key, form)}`;
    }
    case 'not': {
      const alias = /\/dependencies\/([^/]+)\/not$/.exec(e.schemaPath)?.[1];
      const proto = (def as { not?: { required?: string[] } }).not?.required?.[0];
      return `${where}: "${alias}" and "${proto}" are one field spelled twice (JSON name and proto name); protojson rejects the second as a duplicate`;
    }
    case 'oneOf': {
      const members = (def.oneOf ?? []).map((b) => b.required?.[0] ?? b.anyOf?.[0].required[0] ?? '?');
      const set = Object.keys(e.data as object).filter((k) => members.includes(protoName(def, k)));
      if (!set.length) return `${where}: no event; exactly one of ${members.join(', ')} must be set`;
      return `${where}: ${set.join(' and ')} are ${set.length > 2 ? 'all' : 'both'} set; they are members of one oneof of ${def.title}, and exactly one may be set`;
    }
    case 'maxProperties': {
      // Only a message whose oneof is checked by counting properties has maxProperties.
      const keys = Object.keys(e.data as object);
      const owner = Object.values(DEFS).find((d) => d.if && keys.every((k) => d.properties?.[k]));
      const others = owner?.if?.required ?? [];
      const set = keys.filter((k) => !others.includes(k));
      return `${where}: ${set.join(' and ')} are ${set.length > 2 ? 'all' : 'both'} set; they are members of one oneof of ${owner?.title ?? 'this message'}, and at most one may be set`;
    }
  }
  return `${where}: ${e.message ?? e.keyword}`;
}

function protoName(def: Def, key: string): string {
  return (def.title && JSON_NAMES.get(def.title)?.get(key)) ?? key;
}

function scalarHint(def: Def, data: unknown, form: TetragonForm): string {
  const names = def.anyOf?.find((b) => b.enum)?.enum;
  if (data === null) return ' (Tetragon leaves a field out rather than write null)';
  if (names) {
    // A name with a prefix too many or too few (CAP_DAC_OVERRIDE for DAC_OVERRIDE) before any near spelling.
    const near = typeof data === 'string' ? names.find((n) => n.endsWith(data) || data.endsWith(n)) ?? closest(data, names) : undefined;
    if (near) return ` (did you mean "${near}"?)`;
    return form === 'written' ? ' (Tetragon writes the value name)' : '';
  }
  const range = INT_RANGES[def.title!];
  const integral = (typeof data === 'number' && Number.isInteger(data)) || (typeof data === 'string' && /^-?\d+$/.test(data));
  if (range && integral) {
    const v = BigInt(data as number | string);
    if (v < range[0] || v > range[1]) return ` (out of range ${range[0]}..${range[1]})`;
  }
  if (def.title === 'Timestamp' && typeof data === 'string' && /^\d{4}-\d\d-\d\dT/.test(data) && !calendarDay(data)) return ' (no such day)';
  const written = WRITTEN_AS[def.title!];
  if (form === 'written' && written) return ` (Tetragon writes ${written})`;
  if (def.title === 'string' && typeof data === 'string') return ' (it holds an unpaired UTF-16 surrogate)';
  return '';
}

function fieldHint(def: Def, key: string, form: TetragonForm): string {
  const proto = form === 'written' && def.title ? snakeName(key) : undefined;
  if (proto && proto !== key && def.properties?.[proto]) return ` (the JSON name of "${proto}"; Tetragon writes "${proto}")`;
  const known = Object.keys(def.properties ?? {}).filter((k) => !JSON_NAMES.get(def.title ?? '')?.has(k));
  const near = closest(key, known);
  return near ? ` (did you mean "${near}"?)` : '';
}

/** The proto name of a lowerCamelCase JSON name (proto names here are lower snake_case). */
const snakeName = (json: string): string => json.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

