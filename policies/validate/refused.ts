// Fields Vigil refuses, as the generated schema marks them (scripts/gen-policy-schema.ts):
// the schema refuses those with REFUSED, the compiler those with REFUSED_BY_COMPILER.
export const REFUSED = 'x-vigil-refused';
export const REFUSED_BY_COMPILER = 'x-vigil-refused-by-compiler';

/** A refused field counts when set: at its zero value (false, "", []) it means what its absence does. */
export const isSet = (v: unknown): boolean => v !== undefined && v !== false && v !== '' && !(Array.isArray(v) && !v.length);

/** The error a set refused field gets; `yet` for what the compiler refuses, which Vigil's programs may run one day. */
export const refusal = (field: string, reason: string, yet = false): string => `${field} is not supported by Vigil${yet ? ' yet' : ''}: ${reason}`;
