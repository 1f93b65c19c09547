// Field paths to source positions and back, through a document's node tree.
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { PathSeg } from './path.js';

export interface Position { line: number; column: number }

const startOf = (n: unknown): number | undefined => (n as { range?: [number, number, number] } | null)?.range?.[0];

/** The node at `path`, and the key node naming its last segment. */
function walk(doc: Document, path: readonly PathSeg[]): { node?: Node; key?: Node; depth: number } {
  let node = doc.contents as Node | null;
  let key: Node | undefined;
  let depth = 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc) ?? null;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      key = pair.key as Node;
      node = pair.value as Node | null;
      if (node === null) return { key, depth: depth + 1 };
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      key = undefined;
      node = node.items[seg] as Node;
    } else {
      break;
    }
    depth++;
  }
  return { node: node ?? undefined, key, depth };
}

/** Line and column of the value at `path` (or of its key), or of the nearest node found on the way. */
export function locate(lines: LineCounter, doc: Document, path: readonly PathSeg[], at: 'key' | 'value' = 'value'): Position {
  const { node, key, depth } = walk(doc, path);
  const full = depth === path.length;
  const offset = (full && at === 'key' ? startOf(key) : undefined)
    ?? (full ? startOf(node) ?? startOf(key) : startOf(node))
    ?? startOf(doc.contents) ?? doc.range?.[0] ?? 0;
  return offsetPosition(lines, offset);
}

export function offsetPosition(lines: LineCounter, offset: number): Position {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** Path of the innermost key or item whose node contains `offset`. */
export function nodePath(doc: Document, offset: number): PathSeg[] {
  const path: PathSeg[] = [];
  const inside = (n: unknown): boolean => {
    const r = (n as { range?: [number, number, number] } | null)?.range;
    return !!r && r[0] <= offset && offset < Math.max(r[2], r[1] + 1);
  };
  let node = doc.contents as unknown;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => inside(p.key) || inside(p.value));
      const key = isScalar(pair?.key) ? pair.key.value : undefined;
      if (!pair || (typeof key !== 'string' && typeof key !== 'number')) return path;
      path.push(String(key));
      if (inside(pair.key)) return path;
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex(inside);
      if (i < 0) return path;
      path.push(i);
      node = node.items[i];
    } else {
      return path;
    }
  }
}
