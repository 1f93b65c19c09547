// The fields the schema takes and the compiler refuses (marked
// x-vigil-refused-by-compiler in the schema): what Vigil's programs do not
// run yet is an error at its field path, never dropped.
import { POLICY_SCHEMA } from '../validate/schema.js';
import { isSet, refusal, REFUSED_BY_COMPILER } from '../validate/refused.js';
import { formatPath, type PathSeg } from '../validate/path.js';

type Schema = Record<string, unknown>;
const DEFS = POLICY_SCHEMA.definitions as Record<string, Schema>;
const deref = (s: Schema): Schema => (typeof s.$ref === 'string' ? { ...DEFS[s.$ref.replace('#/definitions/', '')], ...s } : s);

/** Each set field of `value` (a spec, as the schema took it) that the compiler refuses, in document order. */
export function refusedFields(value: unknown, schema: Schema = DEFS.TracingPolicySpec, path: PathSeg[] = ['spec']): { path: string; message: string }[] {
  const s = deref(schema);
  if (Array.isArray(value)) return s.items ? value.flatMap((v, i) => refusedFields(v, s.items as Schema, [...path, i])) : [];
  if (!value || typeof value !== 'object') return [];
  const props = s.properties as Record<string, Schema> | undefined;
  const extra = typeof s.additionalProperties === 'object' ? s.additionalProperties as Schema : undefined;
  return Object.entries(value).flatMap(([k, v]) => {
    const sub = props?.[k] ?? extra;
    if (!sub) return [];
    const reason = sub[REFUSED_BY_COMPILER];
    if (typeof reason === 'string') return isSet(v) ? [{ path: formatPath([...path, k]), message: refusal(k, reason, true) }] : [];
    return refusedFields(v, sub, [...path, k]);
  });
}
