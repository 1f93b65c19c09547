// The two inputs of the policy schema: the facts of Tetragon's CRD
// (policies/schema/tetragon-crd-fields.yaml) and Vigil's decision on each
// field (policies/schema/vigil-fields.yaml), read, normalised, and expanded
// to every CRD field path under spec, each classified supported or refused.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const FACTS_FILE = 'policies/schema/tetragon-crd-fields.yaml';
export const DECISIONS_FILE = 'policies/schema/vigil-fields.yaml';

/** One field of the CRD, or a list's or map's item. */
export interface FieldSpec {
  /** string, boolean, int32, int64, an enum or an object type. */
  type?: string;
  list?: FieldSpec;
  map?: FieldSpec;
  default?: unknown;
  minimum?: number;
  maxItems?: number;
  maxLength?: number;
  pattern?: string;
}

export interface ObjectType { required: string[]; fields: Record<string, FieldSpec> }

export interface Facts {
  paths: number;
  root: string;
  enums: Record<string, string[]>;
  types: Record<string, ObjectType>;
}

export interface Decision {
  note?: string;
  refused?: string;
  by?: 'compiler';
  doc?: string;
  schema?: Record<string, unknown>;
}

export interface Decisions {
  enums: Record<string, { add?: string[] }>;
  types: Record<string, Record<string, Decision>>;
}

/** `X`, `[X]` or a map, as the facts file writes a field. */
function fieldSpec(raw: unknown): FieldSpec {
  if (typeof raw === 'string') return { type: raw };
  if (Array.isArray(raw)) return { list: fieldSpec(raw[0]) };
  const r = raw as FieldSpec & { list?: unknown; map?: unknown };
  return { ...r, ...(r.list !== undefined ? { list: fieldSpec(r.list) } : {}), ...(r.map !== undefined ? { map: fieldSpec(r.map) } : {}) };
}

const read = (file: string): Record<string, unknown> => parse(readFileSync(REPO + file, 'utf8')) as Record<string, unknown>;

export function loadFacts(): Facts {
  const raw = read(FACTS_FILE) as unknown as Facts & { types: Record<string, { required?: string[]; fields: Record<string, unknown> }> };
  const types = Object.fromEntries(Object.entries(raw.types).map(([name, t]) => [name, {
    required: t.required ?? [],
    fields: Object.fromEntries(Object.entries(t.fields).map(([f, s]) => [f, fieldSpec(s)])),
  }]));
  return { paths: raw.paths, root: raw.root, enums: raw.enums, types };
}

export function loadDecisions(): Decisions {
  const raw = read(DECISIONS_FILE) as { enums?: Decisions['enums']; types: Record<string, Record<string, Decision | 'supported'>> };
  const types = Object.fromEntries(Object.entries(raw.types).map(([name, fields]) => [name,
    Object.fromEntries(Object.entries(fields).map(([f, d]) => [f, d === 'supported' ? {} : d])),
  ]));
  return { enums: raw.enums ?? {}, types };
}

/** The list or map item a field holds, down to a named type. */
export const itemOf = (s: FieldSpec): FieldSpec => (s.list ? itemOf(s.list) : s.map ? itemOf(s.map) : s);

/** `[]` after a list, `.*` after a map: spec.kprobes[].args[].index, spec.selectorsMacros.*.matchArgs[]. */
const suffix = (s: FieldSpec): string => (s.list ? `[]${suffix(s.list)}` : s.map ? `.*${suffix(s.map)}` : '');

export interface FieldPath {
  path: string;
  /** The object type that has the field, and the field's name. */
  owner: string;
  field: string;
  spec: FieldSpec;
  decision?: Decision;
  /** The refusal this path falls under: its own, or a refused ancestor's. */
  refusal?: { path: string; reason: string; by?: 'compiler' };
}

/** Every field path under spec, depth first in CRD order, with its decision. */
export function fieldPaths(facts: Facts, decisions: Decisions): FieldPath[] {
  const out: FieldPath[] = [];
  const walk = (type: string, prefix: string, refusal: FieldPath['refusal']): void => {
    for (const [field, spec] of Object.entries(facts.types[type].fields)) {
      const path = `${prefix}.${field}`;
      const decision = decisions.types[type]?.[field];
      const own = decision?.refused !== undefined ? { path, reason: decision.refused, by: decision.by } : undefined;
      const here = refusal ?? own;
      out.push({ path, owner: type, field, spec, decision, ...(here ? { refusal: here } : {}) });
      const item = itemOf(spec).type;
      if (item && facts.types[item]) walk(item, `${path}${suffix(spec)}`, here);
    }
  };
  walk(facts.root, 'spec', undefined);
  return out;
}

/** What keeps the two files from describing one schema: fields without a decision, decisions without a field. */
export function decisionProblems(facts: Facts, decisions: Decisions): string[] {
  const problems: string[] = [];
  for (const p of fieldPaths(facts, decisions)) {
    if (!p.decision && !p.refusal) problems.push(`${p.path}: ${p.owner}.${p.field} has no decision in ${DECISIONS_FILE}`);
  }
  for (const [type, fields] of Object.entries(decisions.types)) {
    for (const field of Object.keys(fields)) {
      if (!facts.types[type]?.fields[field]) problems.push(`${DECISIONS_FILE}: ${type}.${field} is not a field of the CRD`);
    }
  }
  for (const name of Object.keys(decisions.enums)) if (!facts.enums[name]) problems.push(`${DECISIONS_FILE}: enum ${name} is not in the CRD`);
  return problems;
}
