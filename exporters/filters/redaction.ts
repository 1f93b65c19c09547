// Tetragon's redaction filters (--redaction-filters): secrets in process
// arguments never leave the node. One JSON object a line:
//   {"redact": ["--password(?:\\s+|=)(\\S*)"], "binary_regex": ["(?:^|/)mysql$"]}
// Only the capture groups of each match are replaced with *****; a regex
// without a group redacts nothing. binary_regex, when given, limits the
// filter to processes whose binary matches one. The agent applies the
// filters once, when a process enters its cache, so the arguments are
// redacted in every event and every output that shows the process.
import { VigilError } from '../../kernel/errors.js';
import { jsonObjects, onlyKeys, strings } from './json-lines.js';
import { anyMatch, re2, type Re2 } from './re2.js';

export const REDACTED = '*****';

export type Redactor = (binary: string, args: string) => string;

/** s with the capture groups of every match of re replaced. */
export function redactString(re: Re2, s: string): string {
  const groups = re.groupCount();
  if (!groups) return s;
  const m = re.matcher(s);
  let out = '';
  let last = 0;
  while (m.find()) {
    for (let g = 1; g <= groups; g++) {
      const start = m.start(g);
      // Unmatched groups, and groups nested in one already redacted, are skipped.
      if (start < last) continue;
      out += s.slice(last, start) + REDACTED;
      last = m.end(g);
    }
  }
  return last === 0 && out === '' ? s : out + s.slice(last);
}

export function redactionFilters(text: string, flag: string): Redactor | undefined {
  const filters = jsonObjects(text, flag).map((obj, i) => {
    const where = `${flag} line ${i + 1}`;
    if ('match' in obj) throw new VigilError('VIGIL_USAGE', `${where}.match: deprecated in Tetragon and not supported; use binary_regex`);
    onlyKeys(obj, ['redact', 'binary_regex'], where);
    const redact = strings(obj.redact ?? [], `${where}.redact`).map((p) => re2(p, `${where}.redact`));
    const binaries = strings(obj.binary_regex ?? [], `${where}.binary_regex`).map((p) => re2(p, `${where}.binary_regex`));
    return { redact, binaries };
  });
  if (!filters.length) return undefined;
  return (binary, args) => {
    for (const f of filters) {
      if (f.binaries.length && !anyMatch(f.binaries, binary)) continue;
      for (const re of f.redact) args = redactString(re, args);
    }
    return args;
  };
}
