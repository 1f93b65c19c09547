// Filter flags hold JSON objects one after another, a line each as Tetragon
// writes them (its json.Decoder reads any whitespace between them).
import { VigilError } from '../../kernel/errors.js';

/** The objects of text, in order; anything else between them is an error naming the flag. */
export function jsonObjects(text: string, flag: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if (c === '}' || c === ']') {
      if (--depth < 0) break;
      if (depth === 0) out.push(parse(text.slice(start, i + 1), flag, out.length));
    } else if (depth === 0 && !/\s/.test(c)) {
      throw new VigilError('VIGIL_USAGE', `${flag}: expected one JSON object a line, found ${JSON.stringify(text.slice(i, i + 20))}`);
    }
  }
  if (depth !== 0 || inString) throw new VigilError('VIGIL_USAGE', `${flag}: the last JSON object is not closed`);
  return out;
}

function parse(text: string, flag: string, index: number): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new VigilError('VIGIL_USAGE', `${flag}: object ${index + 1} is not JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new VigilError('VIGIL_USAGE', `${flag}: object ${index + 1} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** The value of key as a list of strings, or an error naming where. */
export function strings(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new VigilError('VIGIL_USAGE', `${where}: expected a list of strings, got ${JSON.stringify(v)}`);
  return v as string[];
}

export function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new VigilError('VIGIL_USAGE', `${where}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Keys of obj that are not in known: an error listing the known ones. */
export function onlyKeys(obj: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) throw new VigilError('VIGIL_USAGE', `${where}: unknown field "${k}" (known: ${known.join(', ')})`);
  }
}
