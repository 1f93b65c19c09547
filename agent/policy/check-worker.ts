// The policy checker's thread: reads, lints and compiles one policy file
// (or a Kubernetes object's text) at a time, off the agent's event loop (agent/policy/checker.ts). What it
// sends back is plain data: lint errors, and each policy compiled for the
// running kernel with its compile errors placed at file:line:col.
import { parentPort } from 'node:worker_threads';
import { formatPolicyError, lintFile, lintText, type PolicyError } from '../../policies/validate/index.js';
import { compilePolicy, type CompiledPolicy } from '../../policies/compiler/compile.js';
import { runningKernel, type FeatureState } from '../../kernel/facts.js';

export interface CheckRequest {
  id: number;
  file: string;
  /** The policy's text, when it is no file (a Kubernetes object); `file` then only names it. */
  text?: string;
  features: FeatureState[];
}

export interface CheckedPolicy {
  name: string;
  file: string;
  compiled: CompiledPolicy;
  /** compiled.errors, each as file:line:col: path: message. */
  placed: string[];
}

/** What a check finds in a file: lint errors, the metadata.name of every document, and the policies that passed lint, compiled. */
export interface CheckResult {
  lint: PolicyError[];
  names: string[];
  policies: CheckedPolicy[];
}

export type CheckAnswer = ({ id: number } & CheckResult) | { id: number; error: string };

function check({ id, file, text, features }: CheckRequest): CheckAnswer {
  const lint = text === undefined ? lintFile(file) : lintText(text, file);
  const kernel = runningKernel(features);
  const policies = lint.policies.map((v) => {
    const compiled = compilePolicy(v.policy, kernel);
    const placed = compiled.errors.map((e) => formatPolicyError(v.place({ path: e.path, message: e.message, severity: e.skipped ? 'warning' : 'error' }, 'compile')));
    return { name: v.name, file: v.file, compiled, placed };
  });
  return { id, lint: lint.errors, names: lint.names, policies };
}

parentPort?.on('message', (req: CheckRequest) => {
  let answer: CheckAnswer;
  try {
    answer = check(req);
  } catch (err) {
    answer = { id: req.id, error: (err as Error).stack ?? String(err) };
  }
  parentPort!.postMessage(answer);
});
