// Tetragon's event schema (exporters/tetragon-events.schema.json) and the
// facts the validator and its messages read from it.
import { readFileSync } from 'node:fs';

export interface Prop {
  $ref?: string;
  type?: string;
  items?: { $ref?: string };
}

export interface Def {
  title?: string;
  properties?: Record<string, Prop>;
  dependencies?: unknown;
  anyOf?: { enum?: string[] }[];
  oneOf?: { required?: string[]; anyOf?: { required: string[] }[] }[];
  if?: { required: string[] };
  then?: object;
  else?: object;
}

export const TETRAGON_SCHEMA: { definitions: Record<string, Def | boolean> } = JSON.parse(
  readFileSync(new URL('../../../exporters/tetragon-events.schema.json', import.meta.url), 'utf8'),
);

export const DEFS = TETRAGON_SCHEMA.definitions as Record<string, Def>;

/** The proto name a JSON-name property stands for: its $ref points at a sibling property. */
function aliasTarget(message: string, prop: { $ref?: string }): string | undefined {
  const prefix = `#/definitions/${message}/properties/`;
  return prop.$ref?.startsWith(prefix) ? prop.$ref.slice(prefix.length) : undefined;
}

/** JSON name → proto name, per message. */
export const JSON_NAMES = new Map<string, Map<string, string>>();
for (const [name, def] of Object.entries(DEFS)) {
  for (const [key, prop] of Object.entries(def.properties ?? {})) {
    const target = aliasTarget(name, prop);
    if (!target) continue;
    if (!JSON_NAMES.has(name)) JSON_NAMES.set(name, new Map());
    JSON_NAMES.get(name)!.set(key, target);
  }
}

/** The range of each integer kind, for the formats of the same names. */
export const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/** The day exists in its month (the pattern has checked the shape). */
export function calendarDay(s: string): boolean {
  const [y, m, d] = [Number(s.slice(0, 4)), Number(s.slice(5, 7)), Number(s.slice(8, 10))];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

