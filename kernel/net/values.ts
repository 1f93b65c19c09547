// Network values as TracingPolicies write them: IPv4 and IPv6 addresses
// and CIDRs, ports and port ranges. One parser for the linter
// (policies/validate/values.ts), the hook encoder (policies/compiler/
// net-filter.ts) and the cgroup connect denies (policies/compiler/connect.ts).
// A value that does not parse is a VIGIL_POLICY_INVALID naming it.
import { isIPv4, isIPv6 } from 'node:net';
import { VigilError } from '../errors.js';

const invalid = (message: string): VigilError => new VigilError('VIGIL_POLICY_INVALID', message);

export interface Cidr {
  family: 4 | 6;
  len: number;
  /** Network byte order, host bits cleared. */
  addr: Buffer;
}

/** Parses "addr" or "addr/len" (IPv4 or IPv6); host bits are cleared. Throws a message naming the value. */
export function parseCidr(text: string): Cidr {
  const [ip, len, extra] = String(text).split('/');
  const family = isIPv4(ip) ? 4 : isIPv6(ip) && !ip.includes('%') ? 6 : 0;
  if (!family || extra !== undefined) throw invalid(`${JSON.stringify(text)} is not an IP address or CIDR`);
  const bits = family === 4 ? 32 : 128;
  const n = len === undefined ? bits : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(n >= 0 && n <= bits)) throw invalid(`${JSON.stringify(text)} is not an IP address or CIDR: the prefix length must be 0..${bits}`);
  const addr = family === 4 ? Buffer.from(ip.split('.').map(Number)) : ipv6Bytes(ip);
  return { family, len: n, addr: masked(addr, n) };
}

function ipv6Bytes(ip: string): Buffer {
  const hex = ip.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const [head, tail] = hex.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
  return out;
}

export function masked(addr: Buffer, len: number): Buffer {
  return Buffer.from(addr.map((b, i) => b & (0xff00 >> Math.min(8, Math.max(0, len - 8 * i)))));
}

export const cidrContains = (outer: Cidr, inner: Cidr): boolean =>
  outer.family === inner.family && masked(inner.addr, outer.len).equals(outer.addr);

const PORT = /^\d{1,5}$/;

/** Parses "port" or "lo:hi" into an inclusive range. Throws a message naming the value. */
export function parsePortRange(text: string): [number, number] {
  const parts = String(text).trim().split(':');
  if (parts.length > 2) throw invalid(`${JSON.stringify(text)} is not a port or a range a:b`);
  const [lo, hi = lo] = parts.map((p) => (PORT.test(p) ? Number(p) : NaN));
  const bad = parts.find((p) => !PORT.test(p) || Number(p) > 65535);
  if (bad !== undefined) throw invalid(`${JSON.stringify(bad)} is not a port (0-65535)`);
  if (lo > hi) throw invalid(`range ${text} is empty: ${lo} > ${hi}`);
  return [lo, hi];
}

/** The fewest prefixes of a 16-bit value that cover [lo, hi]: [value, prefix length in bits]. */
export function portPrefixes([lo, hi]: [number, number]): [number, number][] {
  return rangePrefixes(BigInt(lo), BigInt(hi), 16).map(([p, bits]) => [Number(p), bits]);
}

/** The fewest prefixes of a width-bit unsigned value that cover [lo, hi]: [value, prefix length in bits]. */
export function rangePrefixes(lo: bigint, hi: bigint, width: number): [bigint, number][] {
  const out: [bigint, number][] = [];
  let p = lo;
  while (p <= hi) {
    let size = 0; // the block is 2^size wide
    while (size < width && (p & ((1n << BigInt(size + 1)) - 1n)) === 0n && p + (1n << BigInt(size + 1)) - 1n <= hi) size++;
    out.push([p, width - size]);
    p += 1n << BigInt(size);
  }
  return out;
}

/** How Tetragon prints an address: dotted IPv4 (IPv4-mapped IPv6 too), compressed IPv6 (RFC 5952). */
export function formatIp(bytes: Buffer, family: 4 | 6): string {
  if (family === 4) return [...bytes.subarray(0, 4)].join('.');
  const b = bytes.subarray(0, 16);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return [...b.subarray(12)].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
