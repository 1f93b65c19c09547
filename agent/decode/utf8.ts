// Kernel strings as valid UTF-8, the way a Go agent's strings.ToValidUTF8
// makes them: each run of bytes that is not UTF-8 becomes one U+FFFD.
// (Buffer.toString would write one U+FFFD per maximal invalid subpart, so
// the same bytes would read differently from Tetragon's.)
import { isUtf8 } from 'node:buffer';

const cont = (b: number | undefined): boolean => b !== undefined && b >= 0x80 && b <= 0xbf;
const within = (b: number | undefined, lo: number, hi: number): boolean => b !== undefined && b >= lo && b <= hi;

/** Length of the valid UTF-8 sequence at b[i], or 0 when it is not one. */
function sequence(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  if (c < 0xc2) return 0;
  if (c < 0xe0) return cont(b[i + 1]) ? 2 : 0;
  if (c < 0xf0) {
    const ok = within(b[i + 1], c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) && cont(b[i + 2]);
    return ok ? 3 : 0;
  }
  if (c < 0xf5) {
    const ok = within(b[i + 1], c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) && cont(b[i + 2]) && cont(b[i + 3]);
    return ok ? 4 : 0;
  }
  return 0;
}

export function validUtf8(b: Buffer): string {
  if (isUtf8(b)) return b.toString('utf8');
  let out = '';
  let start = 0;
  let i = 0;
  while (i < b.length) {
    const n = sequence(b, i);
    if (n) {
      i += n;
      continue;
    }
    out += b.toString('utf8', start, i) + '\uFFFD';
    while (i < b.length && !sequence(b, i)) i++;
    start = i;
  }
  return out + b.toString('utf8', start, i);
}
