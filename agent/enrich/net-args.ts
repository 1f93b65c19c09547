// Network args of policy events, from the fixed tuple the kernel writes
// (struct vigil_net_arg, kprobes/include/events.h) to Tetragon's
// sock_arg, sockaddr_arg (sockaddrun_arg for AF_UNIX, whose sun_path follows
// the tuple) and skb_arg. As protojson writes them, zero numbers and empty
// strings are left out; the cookie (uint64) is a string.
import * as L from '../../kernel/abi/layouts.generated.js';
import type { KprobeSkb, KprobeSock, KprobeSockaddr, KprobeSockaddrUn } from '../../exporters/tetragon.js';
import { AF_INET, AF_INET6, AF_UNIX, familyName, protocolName, sockTypeName, tcpStateName } from '../../kernel/net/names.js';
import { formatIp } from '../../kernel/net/values.js';
import { validUtf8 } from '../decode/utf8.js';

const N = L.vigil_net_arg;

/** The tuple's fields, or undefined when the record holds less than a tuple. */
export interface NetTuple {
  saddr: Buffer;
  daddr: Buffer;
  cookie: bigint;
  mark: number;
  priority: number;
  hash: number;
  len: number;
  family: number;
  type: number;
  protocol: number;
  sport: number;
  dport: number;
  state: number;
}

export function readNetTuple(b: Buffer): NetTuple | undefined {
  if (b.length < N.sizeof) return undefined;
  const o = N.offsetof;
  return {
    saddr: b.subarray(o.saddr, o.saddr + 16), daddr: b.subarray(o.daddr, o.daddr + 16), cookie: b.readBigUInt64LE(o.cookie),
    mark: b.readUInt32LE(o.mark), priority: b.readUInt32LE(o.priority), hash: b.readUInt32LE(o.hash), len: b.readUInt32LE(o.len),
    family: b.readUInt16LE(o.family), type: b.readUInt16LE(o.type), protocol: b.readUInt16LE(o.protocol),
    sport: b.readUInt16LE(o.sport), dport: b.readUInt16LE(o.dport), state: b.readUInt8(o.state),
  };
}

const ipFamily = (family: number): 4 | 6 | undefined => (family === AF_INET ? 4 : family === AF_INET6 ? 6 : undefined);

/** Drops what protojson leaves out: zeros, empty strings, undefined. */
function populated<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== 0 && v !== '' && v !== '0')) as T;
}

function addrs(t: NetTuple): { saddr?: string; daddr?: string } {
  const f = ipFamily(t.family);
  return f ? { saddr: formatIp(t.saddr, f), daddr: formatIp(t.daddr, f) } : {};
}

export function sockArg(t: NetTuple): KprobeSock {
  const { saddr, daddr } = addrs(t);
  return populated({
    family: familyName(t.family), type: sockTypeName(t.type), protocol: protocolName(t.protocol), mark: t.mark, priority: t.priority,
    saddr, daddr, sport: t.sport, dport: t.dport, cookie: t.cookie.toString(), state: t.state ? tcpStateName(t.state) : undefined,
  });
}

export function sockaddrArg(t: NetTuple): KprobeSockaddr {
  return populated({ family: familyName(t.family), addr: addrs(t).saddr, port: t.sport });
}

/** A sockaddr argument: sockaddr_arg, or sockaddrun_arg for AF_UNIX. */
export function sockaddrArgument(bytes: Buffer): { sockaddr_arg: KprobeSockaddr } | { sockaddrun_arg: KprobeSockaddrUn } {
  const t = readNetTuple(bytes);
  if (!t) return { sockaddr_arg: {} };
  if (t.family !== AF_UNIX) return { sockaddr_arg: sockaddrArg(t) };
  return { sockaddrun_arg: populated({ family: familyName(t.family), path: unixPath(bytes.subarray(N.sizeof)) }) };
}

/** sun_path up to its NUL; an abstract name (a leading NUL) as @name, up to the next NUL. */
function unixPath(path: Buffer): string {
  const abstract = path[0] === 0;
  const from = abstract ? 1 : 0;
  const end = path.indexOf(0, from);
  const name = validUtf8(path.subarray(from, end === -1 ? path.length : end));
  return abstract ? (name ? `@${name}` : '') : name;
}

export function skbArg(t: NetTuple): KprobeSkb {
  const { saddr, daddr } = addrs(t);
  return populated({
    hash: t.hash, len: t.len, priority: t.priority, mark: t.mark, saddr, daddr, sport: t.sport, dport: t.dport,
    proto: t.protocol, protocol: protocolName(t.protocol), family: familyName(t.family),
  });
}
