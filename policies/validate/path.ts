// Field paths: segments in code, `spec.kprobes[0].call` in messages.
export type PathSeg = string | number;

const IDENT = /^[A-Za-z_$][\w$-]*$/;

export function formatPath(segs: readonly PathSeg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENT.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Segments of a JSON pointer (ajv's instancePath), typed by walking `data`. */
export function fromPointer(pointer: string, data: unknown): PathSeg[] {
  if (!pointer) return [];
  const out: PathSeg[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSeg = Array.isArray(node) ? Number(key) : key;
    out.push(seg);
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return out;
}

/** Segments of a formatted path: spec.kprobes[0].call -> ['spec', 'kprobes', 0, 'call']. */
export function parsePath(text: string): PathSeg[] {
  const out: PathSeg[] = [];
  for (const m of text.matchAll(/([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]) as string);
  }
  return out;
}
