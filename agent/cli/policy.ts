// vigil policy lint FILE…: every validation layer (YAML, schema, semantics,
// this kernel's BTF and tracefs), then the compiler for this kernel, as the
// agent runs them before loading: loading nothing.
import { formatPolicyError, lintPaths } from '../../policies/validate/index.js';
import { FEATURES, probeFeatures } from '../../kernel/features.js';
import { runningKernel, type KernelFacts } from '../../kernel/facts.js';

/**
 * The kernel the compiler checks against: probed when root (the probe loads
 * BPF programs); otherwise one with every feature, so only what holds on
 * any kernel (limits, values, the language) is checked.
 */
function lintKernel(): KernelFacts {
  if (process.getuid?.() === 0) return runningKernel(probeFeatures());
  return runningKernel(FEATURES.map((f) => ({ feature: f.id, works: true })));
}

const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Prints every problem and a summary line; returns 1 when any is an error. */
export async function policyLint(files: string[], opts: { json: boolean }): Promise<number> {
  const result = lintPaths(files, { compile: lintKernel() });
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
