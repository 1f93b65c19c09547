// "did you mean": the closest candidate by edit distance (with transpositions).

export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** Names longer than this get no suggestion: no kernel or policy name is, and the cost grows with length. */
const MAX_WORD = 128;

/** The closest candidate within a third of the word's length, or undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > MAX_WORD) return undefined;
  const max = Math.max(1, Math.floor(word.length / 3));
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === word) continue;
    if (c.length === word.length && c.toLowerCase() === lower) return c;
    if (Math.abs(c.length - word.length) > max) continue;
    const dist = distance(word, c);
    if (dist <= max && dist < bestD) [best, bestD] = [c, dist];
  }
  return best;
}

/** ` (did you mean "x"?)`, ` (expected one of a, b)` for a short list, or ''. */
export function hint(word: string, candidates: readonly string[], listUpTo = 8): string {
  const c = closest(word, candidates);
  if (c) return ` (did you mean "${c}"?)`;
  return candidates.length && candidates.length <= listUpTo ? ` (expected one of ${candidates.join(', ')})` : '';
}
