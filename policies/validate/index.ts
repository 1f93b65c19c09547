// The policy front-end. A TracingPolicy file goes through four layers:
// strict YAML, the JSON Schema, semantics, and the running kernel (BTF and
// tracefs). Every problem is placed at its file, line, column and field
// path; each document stands alone, and bad input never throws.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TracingPolicy } from '../types.generated.js';
import { toPolicyError, type Finding, type Layer, type PolicyError, type Severity } from './errors.js';
import { parsePath } from './path.js';
import { INPUT_LIMITS, readPolicyText, tooDeep } from './input.js';
import { compilePolicy } from '../compiler/compile.js';
import type { KernelFacts } from '../../kernel/facts.js';
import { checkKernel, kernelEnv } from './kernel.js';
import { checkSchema } from './schema.js';
import { checkSemantics } from './semantic.js';
import { expandMacros, MacroOrigins } from './macros.js';
import { locate, offsetPosition, type Position } from './locate.js';
import { parseYaml, type YamlDocument, type YamlFile } from './yaml.js';

export { formatPolicyError, type PolicyError } from './errors.js';
export { POLICY_LIMITS } from './limits.js';

export interface ValidatedPolicy {
  file: string;
  /** 0-based index of the YAML document in its file. */
  document: number;
  /** metadata.name */
  name: string;
  policy: TracingPolicy;
  /** A later layer's finding (compile, load) placed at its line and column in this document. */
  place(f: { path: string; message: string; severity?: Severity }, layer: Layer): PolicyError;
}

export interface LintOptions {
  /** Check against the running kernel's BTF and tracefs (default true). */
  kernel?: boolean;
  /** Also compile each policy for this kernel, as the agent would before loading it: mechanisms, limits, values. */
  compile?: KernelFacts;
}

export interface LintResult {
  /** Policies without errors (warnings allowed). */
  policies: ValidatedPolicy[];
  /** Errors and warnings, by file, line and column. */
  errors: PolicyError[];
  /** Files read. */
  files: string[];
  /** Non-empty YAML documents read. */
  documents: number;
  /** metadata.name of every document that has one, valid or not. */
  names: string[];
}

const isError = (f: Finding): boolean => (f.severity ?? 'error') === 'error';
const START = { line: 1, column: 1 };

export function lintFile(file: string, opts: LintOptions = {}): LintResult {
  const read = readPolicyText(file);
  if ('problem' in read) {
    const result: LintResult = { policies: [], errors: [], files: [file], documents: 0, names: [] };
    result.errors.push(toPolicyError({ path: [], message: read.problem }, file, START, 'yaml'));
    return result;
  }
  return lintText(read.text, file, opts);
}

/**
 * Lints policy text that did not come from a file (a Kubernetes object,
 * rendered as YAML); `file` names it in every error.
 */
export function lintText(text: string, file: string, opts: LintOptions = {}): LintResult {
  const result: LintResult = { policies: [], errors: [], files: [file], documents: 0, names: [] };
  if (Buffer.byteLength(text) > INPUT_LIMITS.bytes) {
    result.errors.push(toPolicyError({ path: [], message: `the policy is ${Buffer.byteLength(text)} bytes; Vigil reads at most ${INPUT_LIMITS.bytes}` }, file, START, 'yaml'));
    return result;
  }
  const deep = tooDeep(text);
  if (deep !== undefined) {
    const at = { line: text.slice(0, deep).split('\n').length, column: deep - text.lastIndexOf('\n', deep - 1) };
    const message = `nested deeper than Vigil reads (${INPUT_LIMITS.depth} levels of brackets, 512 columns of indentation)`;
    result.errors.push(toPolicyError({ path: [], message }, file, at, 'yaml'));
    return result;
  }
  const yaml = parseYaml(text);
  let kernelNoted = false;
  for (const doc of yaml.docs) {
    if (doc.empty) continue;
    result.documents++;
    const name = (doc.value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    if (typeof name === 'string') result.names.push(name);
    let reported = 0;
    const report = (layer: Layer, findings: Finding[]): Finding[] => {
      for (const f of findings) {
        // Past the limit, only a count: placing each finding walks the document.
        if (reported++ < INPUT_LIMITS.findings) result.errors.push(toPolicyError(f, file, position(yaml, doc, f), layer));
      }
      return findings;
    };
    const origins = new MacroOrigins();
    const policy = lintDocument(doc, opts, report, !kernelNoted, origins);
    kernelNoted ||= policy !== 'syntax';
    if (reported > INPUT_LIMITS.findings) {
      const more: Finding = { path: [], message: `${reported - INPUT_LIMITS.findings} more problems in this document are not listed` };
      result.errors.push(toPolicyError(more, file, position(yaml, doc, more), 'yaml'));
    }
    if (typeof policy === 'string') continue;
    const place = (f: { path: string; message: string; severity?: Severity }, layer: Layer): PolicyError => {
      const finding = origins.map({ path: parsePath(f.path), message: f.message, severity: f.severity });
      return toPolicyError(finding, file, position(yaml, doc, finding), layer);
    };
    if (opts.compile) {
      const errors = compilePolicy(policy, opts.compile).errors.map((e) => place({ ...e, severity: e.skipped ? 'warning' : 'error' }, 'compile'));
      result.errors.push(...errors);
      if (errors.some((e) => e.severity === 'error')) continue;
    }
    result.policies.push({ file, document: doc.index, name: policy.metadata.name, policy, place });
  }
  if (!result.documents) result.errors.push(toPolicyError({ path: [], severity: 'warning', message: 'the file holds no YAML document' }, file, START, 'yaml'));
  warnDuplicateNames(result, yaml, file);
  result.errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return result;
}

/** Two documents of one file with the same metadata.name: the later replaces the earlier when loaded. */
function warnDuplicateNames(result: LintResult, yaml: YamlFile, file: string): void {
  const seen = new Set<string>();
  for (const doc of yaml.docs) {
    const name = (doc.value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    if (typeof name !== 'string') continue;
    if (seen.has(name)) {
      const f: Finding = { path: ['metadata', 'name'], severity: 'warning', message: `another document of this file is also named "${name}"; loaded, the later replaces the earlier` };
      result.errors.push(toPolicyError(f, file, position(yaml, doc, f), 'semantic'));
    }
    seen.add(name);
  }
}

/** The layers on one document: its policy, or at which layer it failed. */
function lintDocument(doc: YamlDocument, opts: LintOptions, report: (layer: Layer, f: Finding[]) => Finding[], noteKernel: boolean, origins: MacroOrigins): TracingPolicy | 'syntax' | 'invalid' {
  if (report('yaml', doc.findings).length || report('schema', checkSchema(doc.value)).length) return 'syntax';
  // The YAML's own value is kept for placing findings; the layers below see the expanded copy.
  const policy = structuredClone(doc.value) as TracingPolicy;
  if (report('semantic', expandMacros(policy.spec, origins)).some(isError)) return 'invalid';
  const semantic = report('semantic', checkSemantics(policy).map((f) => origins.map(f)));
  const kernel = opts.kernel === false ? [] : report('kernel', kernelFindings(policy, noteKernel).map((f) => origins.map(f)));
  return [...semantic, ...kernel].some(isError) ? 'invalid' : policy;
}

/** Kernel findings; without BTF, a note (once per file when `note`). */
function kernelFindings(policy: TracingPolicy, note: boolean): Finding[] {
  const env = kernelEnv();
  if (typeof env !== 'string') return checkKernel(policy, env);
  return note ? [{ path: [], severity: 'warning', message: `kernel checks skipped: ${env}` }] : [];
}

function position(yaml: YamlFile, doc: YamlDocument, f: Finding): Position {
  return f.offset !== undefined ? offsetPosition(yaml.lines, f.offset) : locate(yaml.lines, doc.doc, f.path, f.at);
}

/** Lints files and directories (their *.yaml and *.yml files, recursively, in name order). */
export function lintPaths(paths: string[], opts: LintOptions = {}): LintResult {
  const total: LintResult = { policies: [], errors: [], files: [], documents: 0, names: [] };
  const files: string[] = [];
  for (const p of paths) {
    let dir: boolean;
    try {
      dir = statSync(p).isDirectory();
    } catch (err) {
      total.errors.push(toPolicyError({ path: [], message: `cannot read: ${(err as Error).message}` }, p, START, 'yaml'));
      continue;
    }
    const found = dir ? policyFiles(p) : [p];
    if (!found.length) total.errors.push(toPolicyError({ path: [], message: 'no *.yaml or *.yml files in this directory' }, p, START, 'yaml'));
    files.push(...found.filter((f) => !files.includes(f)));
  }
  for (const file of files) {
    const r = lintFile(file, opts);
    total.policies.push(...r.policies);
    total.errors.push(...r.errors);
    total.files.push(file);
    total.documents += r.documents;
    total.names.push(...r.names);
  }
  return total;
}

function policyFiles(dir: string): string[] {
  const out: string[] = [];
  let list;
  try {
    list = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of list.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...policyFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}
