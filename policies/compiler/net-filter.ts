// Network filters of the generic hooks (kprobes/include/generic_net_filter.h),
// on sock, socket, sockaddr and skb args. Each is one arg filter in the
// selector bytes (encode.ts): its op, and the id its values live under.
//
//   ops 20 SAddr, 21 NotSAddr, 22 DAddr, 23 NotDAddr, 24 SPort, 25 NotSPort,
//       26 DPort, 27 NotDPort, 28 SPortPriv, 29 NotSPortPriv, 30 DPortPriv,
//       31 NotDPortPriv, 32 Protocol, 33 Family, 34 State
//
//   vigil_net_lpm  LPM trie, key 24 bytes: u32 prefixlen, then data[20]:
//                  +0 u16 id (little-endian), +2 u8 kind, +3 the bytes:
//                    kind 4   an IPv4 CIDR: 4 address bytes, prefixlen 24 + len
//                    kind 6   an IPv6 CIDR: 16 address bytes, prefixlen 24 + len
//                    kind 16  a port range as the fewest prefixes of the
//                             16-bit port (big-endian), prefixlen 24 + bits
//                  value u8 1. A bare address is /32 or /128; host bits are
//                  cleared. An IPv4-mapped IPv6 address also matches IPv4 CIDRs.
//   vigil_int_eq   Protocol, Family and State: one key per number (names as
//                  Tetragon spells them, e.g. IPPROTO_TCP, AF_INET6, TCP_SYN_SENT)
//   *PortPriv      no values: the port is below 1024
//
// A sockaddr holds one address and port, which Tetragon matches with SAddr
// and SPort (and Family); a sock and a socket take every op, an skb all
// but State.
import * as L from '../../kernel/abi/layouts.generated.js';
import { VigilError } from '../../kernel/errors.js';
import { FAMILY_NUMBERS, PROTOCOL_NUMBERS, TCP_STATE_NUMBERS, namedNumber } from '../../kernel/net/names.js';
import { parseCidr, parsePortRange, portPrefixes } from '../../kernel/net/values.js';
import { NET_OPERATORS, type ArgType, type NetOperator } from './plan.js';

const OP = L.vigil_filter_op;
const NK = L.vigil_net_key;
const KIND = L.vigil_net_key_kind;

export const NET_OPS: Record<NetOperator, number> = {
  SAddr: OP.VIGIL_FOP_SADDR, NotSAddr: OP.VIGIL_FOP_NOT_SADDR, DAddr: OP.VIGIL_FOP_DADDR, NotDAddr: OP.VIGIL_FOP_NOT_DADDR,
  SPort: OP.VIGIL_FOP_SPORT, NotSPort: OP.VIGIL_FOP_NOT_SPORT, DPort: OP.VIGIL_FOP_DPORT, NotDPort: OP.VIGIL_FOP_NOT_DPORT,
  SPortPriv: OP.VIGIL_FOP_SPORT_PRIV, NotSPortPriv: OP.VIGIL_FOP_NOT_SPORT_PRIV,
  DPortPriv: OP.VIGIL_FOP_DPORT_PRIV, NotDPortPriv: OP.VIGIL_FOP_NOT_DPORT_PRIV,
  Protocol: OP.VIGIL_FOP_PROTOCOL, Family: OP.VIGIL_FOP_FAMILY, State: OP.VIGIL_FOP_STATE,
};

const SOCKADDR_OPS = new Set<NetOperator>(['SAddr', 'NotSAddr', 'SPort', 'NotSPort', 'SPortPriv', 'NotSPortPriv', 'Family']);
const NAMES: Partial<Record<NetOperator, [Record<string, number>, string]>> = {
  Protocol: [PROTOCOL_NUMBERS, 'protocol'], Family: [FAMILY_NUMBERS, 'address family'], State: [TCP_STATE_NUMBERS, 'TCP state'],
};

export const isNetOperator = (op: string): op is NetOperator => (NET_OPERATORS as readonly string[]).includes(op);

/** What a network filter needs besides its op: map keys under its id, or numbers for the integer map. */
export interface NetFilter {
  op: number;
  /** Addresses and ports: the vigil_net_lpm keys of filter id. */
  lpmKeys?: (id: number) => Buffer[];
  /** Protocol, Family, State: the numbers, for vigil_int_eq. */
  ints?: bigint[];
}

const invalid = (where: string, what: string): VigilError => new VigilError('VIGIL_POLICY_INVALID', what, { field: where });

/** One filter on a network arg of this type; throws VIGIL_POLICY_INVALID naming the operator or the value. */
export function netFilter(operator: string, type: ArgType, values: string[], where: string): NetFilter {
  if (!isNetOperator(operator)) throw invalid(where, `${operator} does not apply to a ${type} arg; it takes ${opsFor(type).join(', ')}`);
  if (type !== 'sock' && type !== 'socket' && type !== 'sockaddr' && type !== 'skb') {
    throw invalid(where, `${operator} applies to sock, socket, sockaddr and skb args, and this arg is ${type}`);
  }
  if (!opsFor(type).includes(operator)) throw invalid(where, `${operator} does not apply to a ${type} arg; it takes ${opsFor(type).join(', ')}`);
  const op = NET_OPS[operator];
  const value = (j: number): string => `${where}.values[${j}]`;
  const parse = <T>(j: number, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw invalid(value(j), (err as Error).message);
    }
  };
  if (operator.endsWith('Priv')) {
    if (values.length) throw invalid(where, `${operator} takes no values`);
    return { op };
  }
  if (!values.length) throw invalid(where, `${operator} needs at least one value`);
  const named = NAMES[operator];
  if (named) {
    return {
      op,
      ints: values.map((v, j) => {
        const n = namedNumber(v, named[0]);
        if (n === undefined || n > 0xffff) throw invalid(value(j), `unknown ${named[1]} ${JSON.stringify(v)}`);
        return BigInt(n);
      }),
    };
  }
  if (operator.endsWith('Addr')) {
    const cidrs = values.map((v, j) => parse(j, () => parseCidr(v)));
    return { op, lpmKeys: (id) => cidrs.map((c) => netKey(id, c.family === 4 ? KIND.VIGIL_NET_KEY_V4 : KIND.VIGIL_NET_KEY_V6, c.addr, c.len)) };
  }
  const ranges = values.map((v, j) => parse(j, () => parsePortRange(v)));
  return {
    op,
    lpmKeys: (id) => ranges.flatMap(portPrefixes).map(([port, bits]) => {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(port);
      return netKey(id, KIND.VIGIL_NET_KEY_PORT, b, bits);
    }),
  };
}

function opsFor(type: ArgType): NetOperator[] {
  if (type === 'sockaddr') return NET_OPERATORS.filter((o) => SOCKADDR_OPS.has(o));
  if (type === 'skb') return NET_OPERATORS.filter((o) => o !== 'State');
  if (type === 'sock' || type === 'socket') return [...NET_OPERATORS];
  return [];
}

/** A vigil_net_lpm key: prefix length, then id, kind and the bytes. */
export function netKey(id: number, kind: number, bytes: Buffer, bits: number): Buffer {
  const k = Buffer.alloc(NK.sizeof);
  k.writeUInt32LE(24 + bits, NK.offsetof.prefixlen);
  k.writeUInt16LE(id, NK.offsetof.data);
  k.writeUInt8(kind, NK.offsetof.data + 2);
  bytes.copy(k, NK.offsetof.data + 3);
  return k;
}
