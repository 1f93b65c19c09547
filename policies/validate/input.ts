// Bounds on what the linter reads, checked before any parsing: a policy is
// a regular file of at most 1 MiB (Kubernetes keeps objects under 1.5 MiB),
// nested at most 64 levels (Tetragon's deepest policies use about 12), and
// a document reports at most 100 problems. A FIFO, a device or a huge file
// is refused without being read, so bad input never stalls the agent.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export const INPUT_LIMITS = {
  /** Bytes of one policy file. */
  bytes: 1 << 20,
  /** Nesting levels of YAML collections. */
  depth: 64,
  /** Problems reported per document; the rest are counted. */
  findings: 100,
} as const;

/** The file's text, or why it is not read. */
export function readPolicyText(file: string): { text: string } | { problem: string } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return { problem: `cannot read the file: ${(err as Error).message}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { problem: 'not a regular file (a policy is a YAML file, not a FIFO, a device or a directory)' };
    if (st.size > INPUT_LIMITS.bytes) return { problem: `the file is ${st.size} bytes; a policy file holds at most ${INPUT_LIMITS.bytes}` };
    const buf = Buffer.alloc(INPUT_LIMITS.bytes + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, n);
    if (n > INPUT_LIMITS.bytes) return { problem: `the file grew past ${INPUT_LIMITS.bytes} bytes while it was read` };
    return { text: buf.toString('utf8', 0, n) };
  } catch (err) {
    return { problem: `cannot read the file: ${(err as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/** Columns of indentation (and `- ` sequence markers) a line may open with. */
const MAX_INDENT = 512;

/**
 * Where the text nests collections too deep, as a byte offset, or
 * undefined. A cheap scan before the YAML parser, whose cost grows with
 * depth: flow brackets outside quotes and comments (at most `limit` open),
 * and the indentation and `- - -` markers a line opens with (at most 512
 * columns; each level takes at least one).
 */
export function tooDeep(text: string, limit: number = INPUT_LIMITS.depth): number | undefined {
  let flow = 0;
  let quote = '';
  let column = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      lineStart = !quote;
      column = 0;
      continue;
    }
    if (lineStart) {
      if (c === ' ' || c === '\t' || c === '-' || c === '?') {
        if (++column > MAX_INDENT) return i;
        continue;
      }
      lineStart = false;
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '#' && (i === 0 || text[i - 1] === ' ' || text[i - 1] === '\t')) {
      const nl = text.indexOf('\n', i);
      i = (nl < 0 ? text.length : nl) - 1;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '[' || c === '{') {
      if (++flow > limit) return i;
    } else if ((c === ']' || c === '}') && flow > 0) {
      flow--;
    }
  }
  return undefined;
}
