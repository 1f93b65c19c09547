// What the policy linter reports: one PolicyError per problem, naming the
// file, the line and column, the field path and the layer that found it.
import { formatPath, type PathSeg } from './path.js';

export type Severity = 'error' | 'warning';
export type Layer = 'yaml' | 'schema' | 'semantic' | 'kernel' | 'compile';

export interface PolicyError {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** e.g. spec.kprobes[0].selectors[1].matchArgs[0].operator; empty for the whole document. */
  path: string;
  message: string;
  severity: Severity;
  layer: Layer;
}

/** A layer's finding, before it is placed in the file. */
export interface Finding {
  path: PathSeg[];
  message: string;
  severity?: Severity;
  /** Point at the field's key rather than its value (unknown fields). */
  at?: 'key' | 'value';
  /** Exact source offset, when the layer knows it (YAML syntax errors). */
  offset?: number;
}

/** `file:line:col: path: message`; warnings say so after the path. */
export function formatPolicyError(e: PolicyError): string {
  const where = `${e.file}:${e.line}:${e.column}:`;
  const path = e.path ? ` ${e.path}:` : '';
  return `${where}${path}${e.severity === 'warning' ? ' warning:' : ''} ${e.message}`;
}

/** A message or path echoing a huge value is cut: the line and column say where the rest is. */
const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s);

export function toPolicyError(f: Finding, file: string, pos: { line: number; column: number }, layer: Layer): PolicyError {
  return {
    file, line: pos.line, column: pos.column, path: clip(formatPath(f.path), 300),
    message: clip(f.message, 500), severity: f.severity ?? 'error', layer,
  };
}
