// Layer 1: strict YAML. Every document of a file is parsed on its own, so
// one broken document never hides the others. Each keeps its node tree, to
// map a field path back to a line and column (locate.ts).
import { isMap, isPair, isScalar, isSeq, parseAllDocuments, LineCounter, type Document } from 'yaml';
import type { Finding } from './errors.js';
import { nodePath } from './locate.js';
import type { PathSeg } from './path.js';

/** Alias expansions allowed per document; more is a resource-exhaustion attempt. */
const MAX_ALIASES = 64;

export interface YamlDocument {
  /** 0-based position in the file. */
  index: number;
  doc: Document;
  /** The document as plain JSON values; undefined when it could not be built. */
  value: unknown;
  /** Nothing in it: a comment-only or trailing document. */
  empty: boolean;
  findings: Finding[];
}

export interface YamlFile {
  docs: YamlDocument[];
  lines: LineCounter;
}

export function parseYaml(text: string): YamlFile {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    // Duplicate keys are found by duplicateKeys(): the parser's own check is quadratic in a map's size.
    lineCounter: lines, prettyErrors: false, uniqueKeys: false, strict: true, logLevel: 'error',
  });
  const list = Array.isArray(docs) ? docs : [];
  return { lines, docs: list.map((doc, index) => readDocument(doc, index)) };
}

function readDocument(doc: Document, index: number): YamlDocument {
  const findings: Finding[] = [];
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')];
  let others = 0;
  for (const e of problems) {
    // Only the first syntax error: the ones after it are mostly its echo.
    if (e.code !== 'DUPLICATE_KEY' && others++) continue;
    const path = nodePath(doc, e.pos[0]);
    // An unclosed quote is reported where it opens, not at the end of the file.
    const offset = e.code === 'MISSING_CHAR' ? undefined : e.pos[0];
    findings.push({ path, message: yamlMessage(e.code, e.message, path), offset });
  }
  for (const offset of duplicateKeys(doc)) {
    const path = nodePath(doc, offset);
    findings.push({ path, message: yamlMessage('DUPLICATE_KEY', '', path), offset });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    findings.push({ path: [], message: `YAML aliases expand more than ${MAX_ALIASES} times: ${(err as Error).message}` });
  }
  return { index, doc, value, empty: !findings.length && (value === null || value === undefined), findings };
}

function yamlMessage(code: string, message: string, path: PathSeg[]): string {
  if (code === 'DUPLICATE_KEY') return `duplicate key "${path[path.length - 1]}"`;
  if (code === 'TAB_AS_INDENT') return 'tabs are not allowed as indentation';
  const text = message.split('\n')[0];
  return `invalid YAML: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

/** Offsets of keys that repeat an earlier key of the same map, in one pass over the document. */
function duplicateKeys(doc: Document): number[] {
  const out: number[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length) {
    const node = stack.pop();
    if (isMap(node)) {
      const keys = new Set<unknown>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        if (isScalar(pair.key)) {
          if (keys.has(pair.key.value) && pair.key.range) out.push(pair.key.range[0]);
          keys.add(pair.key.value);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      stack.push(...node.items);
    }
  }
  return out.sort((a, b) => a - b);
}
