// Exported lines against Tetragon's event schema
// (exporters/tetragon-events.schema.json; its $comment states the protojson
// rules it follows). Two forms are compiled from the one file:
//   parsed   every spelling Tetragon's protojson reader accepts;
//   written  only what Tetragon's writer emits: proto names, 32-bit integers
//            as numbers, 64-bit integers as strings, enum names, UTC
//            timestamps, padded base64 (the schema's parsed.* definitions
//            become false and its JSON-name properties are dropped), and no
//            field at its default value but oneof members and wrappers.
//
//   node dist/test/lib/tetragon-schema.js FILE [--written]
// prints each failing line, then the failure classes with a count each.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { formatPath, type PathSeg } from '../../policies/validate/path.js';
import { calendarDay, DEFS, INT_RANGES, JSON_NAMES, TETRAGON_SCHEMA, type Def, type Prop } from './tetragon-schema-defs.js';
import { explain, show, type TetragonForm } from './tetragon-schema-messages.js';

export { TETRAGON_SCHEMA, type TetragonForm };

function writtenForm(): object {
  const s = structuredClone(TETRAGON_SCHEMA) as { definitions: Record<string, Def | boolean> };
  for (const [name, def] of Object.entries(s.definitions)) {
    if (name.startsWith('parsed.')) {
      s.definitions[name] = false;
    } else if (typeof def === 'object' && def.properties) {
      for (const key of JSON_NAMES.get(name)?.keys() ?? []) delete def.properties[key];
      delete def.dependencies;
    }
  }
  return s;
}

function compile(form: TetragonForm): ValidateFunction {
  // The oneof checks name members in `required` beside, not inside, their properties.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false });
  for (const [name, [lo, hi]] of Object.entries(INT_RANGES)) {
    ajv.addFormat(name, { type: 'string', validate: (s: string) => /^-?\d+$/.test(s) && BigInt(s) >= lo && BigInt(s) <= hi });
  }
  ajv.addFormat('timestamp', { type: 'string', validate: calendarDay });
  return ajv.compile(form === 'written' ? writtenForm() : TETRAGON_SCHEMA);
}

const validators: Partial<Record<TetragonForm, ValidateFunction>> = {};
const validator = (form: TetragonForm): ValidateFunction => (validators[form] ??= compile(form));

/** Readable errors for one line; none when it is a valid Tetragon event line. */
export function validateTetragonLine(line: string, form: TetragonForm = 'parsed'): string[] {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return [`line: not JSON (${(e as Error).message})`];
  }
  const validate = validator(form);
  const errors = validate(value) ? [] : explain(validate.errors ?? [], value, form);
  if (form === 'written') writtenDefaults('GetEventsResponse', value, [], errors);
  return errors;
}

const refName = (p: Prop | undefined): string => p?.$ref?.replace('#/definitions/', '') ?? '';

/** Members of the message's oneofs: protojson writes a set member even at its default value. */
function oneofMembers(def: Def): Set<string> {
  if (def.if) return new Set(Object.keys(def.properties ?? {}).filter((k) => !def.if!.required.includes(k)));
  return new Set((def.oneOf ?? []).map((b) => b.required?.[0] ?? b.anyOf?.[0].required[0] ?? ''));
}

/** The scalar's default value, which protojson's writer leaves out; undefined for wrappers, which it writes. */
function isDefault(kind: string, v: unknown): boolean {
  const names = DEFS[kind]?.anyOf?.find((b) => b.enum)?.enum;
  if (names) return v === names[0] || v === 0;
  switch (kind) {
    case 'string': case 'bytes': return v === '';
    case 'int32': case 'uint32': return v === 0;
    case 'int64': case 'uint64': return v === '0' || v === 0;
    case 'bool': return v === false;
    default: return false;
  }
}

/** Fields Tetragon's writer would have left out: singular scalars at their default, empty lists and maps. */
function writtenDefaults(name: string, value: unknown, path: PathSeg[], out: string[]): void {
  const def = DEFS[name];
  if (!def?.properties || !value || typeof value !== 'object' || Array.isArray(value)) return;
  const members = oneofMembers(def);
  for (const [key, v] of Object.entries(value)) {
    const prop = def.properties[key];
    if (!prop) continue;
    const here = [...path, key];
    const omitted = (what: string): void => void out.push(`${formatPath(here)}: ${what}; Tetragon leaves the field out`);
    if (prop.type === 'array' && Array.isArray(v)) {
      if (!v.length) omitted('an empty list');
      v.forEach((item, i) => writtenDefaults(refName(prop.items), item, [...here, i], out));
    } else if (prop.type === 'object') {
      if (v && typeof v === 'object' && !Object.keys(v).length) omitted('an empty map');
    } else if (DEFS[refName(prop)]?.properties) {
      writtenDefaults(refName(prop), v, here, out);
    } else if (!members.has(key) && isDefault(refName(prop), v)) {
      omitted(`${show(v)} is the default value`);
    }
  }
}

export interface ExportFileResult {
  lines: number;
  failures: { line: number; errors: string[] }[];
}

/** Every line of an export file (one JSON object a line), numbered from 1. */
export function validateExportFile(path: string, form: TetragonForm = 'parsed'): ExportFileResult {
  const bytes = readFileSync(path);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const failures: ExportFileResult['failures'] = [];
  let lines = 0;
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    lines++;
    let errors: string[];
    try {
      errors = validateTetragonLine(utf8.decode(bytes.subarray(start, end)), form);
    } catch {
      errors = ['line: not valid UTF-8 (protojson rejects it)'];
    }
    if (errors.length) failures.push({ line: lines, errors });
    start = end + 1;
  }
  return { lines, failures };
}

/** A failure with its paths and values generalized, to count failures by kind. */
export function failureClass(error: string): string {
  return error
    .replace(/\[\d+\]/g, '[]')
    .replace(/^(process_\w+|test|rate_limit_info)\.(process|parent|ancestors\[\])\./, '$1.<process>.')
    .replace(/: (".*?"|[-\d.e+]+) is not a /, ': <value> is not a ');
}

function main(): void {
  const [path, flag] = process.argv.slice(2);
  if (!path || (flag && flag !== '--written')) {
    console.error('usage: node dist/test/lib/tetragon-schema.js FILE [--written]');
    process.exitCode = 2;
    return;
  }
  const r = validateExportFile(path, flag ? 'written' : 'parsed');
  const classes = new Map<string, { count: number; example: string }>();
  for (const f of r.failures) {
    for (const e of f.errors) {
      console.log(`line ${f.line}: ${e}`);
      const c = failureClass(e);
      const entry = classes.get(c) ?? { count: 0, example: `line ${f.line}: ${e}` };
      entry.count++;
      classes.set(c, entry);
    }
  }
  console.log(`\n${r.lines} lines, ${r.failures.length} failing; ${classes.size} failure classes:`);
  for (const [c, { count, example }] of classes) console.log(`${String(count).padStart(6)}  ${c}\n        e.g. ${example}`);
  if (r.failures.length) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
