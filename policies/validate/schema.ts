// Layer 2: the JSON Schema (policies/schema/tracing-policy.schema.json),
// compiled once with ajv. ajv's errors become plain messages on field paths.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import type { Finding } from './errors.js';
import { fromPointer } from './path.js';
import { isSet, refusal, REFUSED, REFUSED_BY_COMPILER } from './refused.js';
import { hint } from './suggest.js';

export const POLICY_SCHEMA: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../../policies/schema/tracing-policy.schema.json', import.meta.url), 'utf8'),
);

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
ajv.addKeyword({ keyword: REFUSED, schemaType: 'string', validate: (_reason: string, data: unknown) => !isSet(data) });
// Read by the compiler (refused.ts), not here.
ajv.addKeyword({ keyword: REFUSED_BY_COMPILER, schemaType: 'string' });
const validate = ajv.compile(POLICY_SCHEMA);

/** Schema findings for one document's value; none means it is a TracingPolicy. */
export function checkSchema(value: unknown): Finding[] {
  if (validate(value)) return [];
  const errors = validate.errors ?? [];
  // A value of the wrong type also fails its enum or length: its type error says it all.
  const mistyped = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  // A refused field's refusal says it all: nothing below it is checked.
  const refused = errors.filter((e) => e.keyword === REFUSED).map((e) => e.instancePath);
  const below = (p: string): boolean => refused.some((r) => p === r || p.startsWith(`${r}/`));
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const e of errors) {
    if (e.keyword !== REFUSED && below(e.instancePath)) continue;
    if (e.keyword !== 'type' && e.keyword !== REFUSED && mistyped.has(e.instancePath)) continue;
    const f = toFinding(e, value);
    const id = f && `${JSON.stringify(f.path)} ${f.message}`;
    if (!f || seen.has(id!)) continue;
    seen.add(id!);
    out.push(f);
  }
  return out;
}

function toFinding(e: ErrorObject, root: unknown): Finding | undefined {
  const path = fromPointer(e.instancePath, root);
  const p = e.params as Record<string, unknown>;
  const last = path[path.length - 1];
  switch (e.keyword) {
    case 'if':
      return undefined; // the `then` error says what is wrong
    case REFUSED:
      return { path, at: 'key', message: refusal(String(last), String(e.schema)) };
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return { path: [...path, field], at: 'key', message: `unknown field "${field}"${hint(field, known)}` };
    }
    case 'required':
      return { path, message: `missing required field "${String(p.missingProperty)}"` };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const noun = typeof last === 'string' ? last : 'value';
      return { path, message: `unknown ${noun} ${JSON.stringify(e.data)}${hint(String(e.data), allowed)}` };
    }
    case 'const':
      return { path, message: `must be ${JSON.stringify(p.allowedValue)}, not ${JSON.stringify(e.data)}` };
    case 'type':
      return { path, message: `expected ${typeName(String(p.type))}, got ${describe(e.data)}` };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${String(p.comparison)} ${String(p.limit)}, got ${String(e.data)}` };
    case 'minLength':
      return { path, message: p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long` };
    case 'maxLength':
      return { path, message: `is ${(e.data as string).length} characters long; at most ${String(p.limit)} are allowed` };
    case 'pattern':
      return { path, message: `${JSON.stringify(e.data)} does not match ${String(p.pattern)}` };
    case 'maxItems':
      return { path, message: `has ${(e.data as unknown[]).length} items; at most ${String(p.limit)} are allowed` };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

function typeName(type: string): string {
  const names: Record<string, string> = {
    object: 'a map', array: 'a list', string: 'a string', boolean: 'a boolean (true or false)',
    integer: 'an integer', number: 'a number',
  };
  return names[type] ?? type;
}

function describe(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  return String(v);
}
