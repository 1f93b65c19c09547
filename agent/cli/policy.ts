// vigil policy lint FILE…: every validation layer (YAML, schema, semantics,
// this kernel's BTF and tracefs), loading nothing.
import { formatPolicyError, lintPaths } from '../../policies/validate/index.js';

const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Prints every problem and a summary line; returns 1 when any is an error. */
export async function policyLint(files: string[], opts: { json: boolean }): Promise<number> {
  const result = lintPaths(files);
  const errors = result.errors.filter((e) => e.severity === 'error').length;
  const warnings = result.errors.length - errors;
  const summary = `${count(result.files.length, 'file')}, ${count(result.documents, 'policy', 'policies')}: ` +
    `${count(errors, 'error')}, ${count(warnings, 'warning')}\n`;
  if (opts.json) {
    // stdout stays one JSON document; the summary goes to stderr.
    process.stdout.write(`${JSON.stringify(result.errors, null, 2)}\n`);
    process.stderr.write(summary);
  } else {
    process.stdout.write(result.errors.map((e) => `${formatPolicyError(e)}\n`).join('') + summary);
  }
  return errors ? 1 : 0;
}
