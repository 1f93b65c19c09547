// Override on a connect-type hook whose selectors use only destination
// address, destination port and protocol is enforced with cgroup connect
// programs (kprobes/cgroup_connect.bpf.c, loaded by agent/sensors/
// connect-deny.ts), which work without BPF LSM. This module finds such
// hooks and compiles their rules into what the programs read:
//
//   rodata   rules_active, rules_not_addr, rules_not_port, rules_tcp,
//            rules_udp, rules_any_proto: u64 masks, rule i is bit i
//            port_rules[65536]: u64, the rules naming each port
//   connect_v4, connect_v6   LPM tries: u32 prefix length, the address
//            (network order) -> u64 mask of the rules whose CIDRs hold it
import type { KProbeSpec } from '../types.generated.js';
import { VigilError } from '../../kernel/errors.js';
import { cidrContains, parseCidr, parsePortRange, type Cidr } from '../../kernel/net/values.js';

/** One rule per bit of the BPF side's u64 masks. */
export const MAX_CONNECT_RULES = 64;

/** What the connect-deny sensor writes: rodata by variable name, LPM trie entries, rule ids by slot. */
export interface ConnectPlan {
  rodata: Record<string, bigint | Buffer>;
  v4: { key: Buffer; value: Buffer }[];
  v6: { key: Buffer; value: Buffer }[];
  ids: number[];
}

const invalid = (where: string, what: string): VigilError => new VigilError('VIGIL_POLICY_INVALID', what, { field: where });

/** A destination rule for the cgroup connect programs. */
export interface ConnectRule {
  /** The rule's id; counts() is keyed by it. */
  id: number;
  /** Destination CIDRs, IPv4 or IPv6; a bare address is /32 or /128. Empty: any address. */
  cidrs: string[];
  /** Match destinations outside cidrs (NotDAddr). */
  notCidrs?: boolean;
  /** Inclusive destination port ranges. Absent or empty: any port. */
  ports?: [number, number][];
  /** Match ports outside ports (NotDPort). */
  notPorts?: boolean;
  /** Absent: any protocol. */
  protocol?: 'tcp' | 'udp';
}

/** Functions and syscalls whose Override means "this connect fails". */
export const CONNECT_CALLS = new Set([
  'tcp_connect', 'tcp_v4_connect', 'tcp_v6_connect', 'security_socket_connect', 'sys_connect', '__x64_sys_connect', 'connect',
]);

const OPS = new Set(['DAddr', 'NotDAddr', 'DPort', 'NotDPort', 'Protocol']);
const PROTOCOLS: Record<string, 'tcp' | 'udp'> = { IPPROTO_TCP: 'tcp', '6': 'tcp', IPPROTO_UDP: 'udp', '17': 'udp' };

/** Port values as ranges; undefined when one does not parse (the linter names it). */
function parsePorts(values: string[]): [number, number][] | undefined {
  try {
    return values.map(parsePortRange);
  } catch {
    return undefined;
  }
}

/** Kernel functions of TCP alone: a deny on them never reaches another protocol. */
const TCP_CALLS = new Set(['tcp_connect', 'tcp_v4_connect', 'tcp_v6_connect']);

/** The connect rules of a kprobe hook, or undefined when it is not a connect deny that cgroup hooks can express. */
export function connectRules(k: KProbeSpec, firstId: number): ConnectRule[] | undefined {
  if (!CONNECT_CALLS.has(k.call) || !k.selectors?.length) return undefined;
  const rules: ConnectRule[] = [];
  for (const s of k.selectors) {
    const keys = Object.keys(s).filter((key) => (s as Record<string, unknown[]>)[key]?.length);
    if (keys.some((key) => key !== 'matchArgs' && key !== 'matchActions')) return undefined;
    if (!s.matchActions?.length || !s.matchActions.every((a) => a.action === 'Override')) return undefined;
    const rule: ConnectRule = { id: firstId + rules.length, cidrs: [] };
    const kinds = new Set<string>();
    for (const m of s.matchArgs ?? []) {
      if (!OPS.has(m.operator)) return undefined;
      // One filter per kind: a rule holds one address set and one port set (DAddr and NotDAddr together are not one set).
      const kind = m.operator.replace(/^Not/, '');
      if (kinds.has(kind)) return undefined;
      kinds.add(kind);
      const values = m.values ?? [];
      if (m.operator.endsWith('DAddr')) {
        rule.cidrs.push(...values);
        rule.notCidrs = m.operator === 'NotDAddr';
      } else if (m.operator.endsWith('DPort')) {
        rule.ports = parsePorts(values);
        if (!rule.ports) return undefined;
        rule.notPorts = m.operator === 'NotDPort';
      } else {
        const protos = new Set(values.map((v) => PROTOCOLS[v]));
        if (protos.size !== 1 || protos.has(undefined as never)) return undefined;
        rule.protocol = [...protos][0];
      }
    }
    // A hook on a TCP function implies TCP: the cgroup programs must not widen it to UDP's connect and sendmsg.
    if (TCP_CALLS.has(k.call)) {
      if (rule.protocol === 'udp') continue;
      rule.protocol = 'tcp';
    }
    rules.push(rule);
  }
  return rules;
}

/** Rules to masks: rule i is bit i. "Any" address or port is "not in the empty set". */
export function compileRules(rules: ConnectRule[]): ConnectPlan {
  if (!Array.isArray(rules)) throw invalid('rules', 'must be an array');
  if (rules.length > MAX_CONNECT_RULES) throw invalid('rules', `${rules.length} rules, at most ${MAX_CONNECT_RULES}`);
  const m = { active: 0n, notAddr: 0n, notPort: 0n, tcp: 0n, udp: 0n, any: 0n };
  const ports = new BigUint64Array(65536);
  const prefixes = new Map<string, Cidr & { rules: bigint }>();
  const ids: number[] = [];
  rules.forEach((r, slot) => {
    const at = `rules[${slot}]`;
    const bit = 1n << BigInt(slot);
    if (!Number.isSafeInteger(r.id)) throw invalid(`${at}.id`, `${String(r.id)} is not an integer`);
    if (ids.includes(r.id)) throw invalid(`${at}.id`, `${r.id} is also the id of rules[${ids.indexOf(r.id)}]`);
    ids.push(r.id);
    m.active |= bit;
    if (!Array.isArray(r.cidrs)) throw invalid(`${at}.cidrs`, 'must be an array');
    r.cidrs.forEach((text, j) => {
      const c = cidr(text, `${at}.cidrs[${j}]`);
      const k = `${c.len}/${c.addr.toString('hex')}`;
      prefixes.set(k, { ...c, rules: (prefixes.get(k)?.rules ?? 0n) | bit });
    });
    if (r.notCidrs && !r.cidrs.length) throw invalid(`${at}.notCidrs`, 'needs cidrs');
    if (r.notCidrs || !r.cidrs.length) m.notAddr |= bit;
    const ranges = r.ports ?? [];
    ranges.forEach((range, j) => {
      if (!isRange(range)) throw invalid(`${at}.ports[${j}]`, `${JSON.stringify(range)} is not a range [lo, hi] of ports 0..65535`);
      for (let p = range[0]; p <= range[1]; p++) ports[p] |= bit;
    });
    if (r.notPorts && !ranges.length) throw invalid(`${at}.notPorts`, 'needs ports');
    if (r.notPorts || !ranges.length) m.notPort |= bit;
    if (r.protocol === undefined) m.any |= bit;
    else if (r.protocol !== 'tcp' && r.protocol !== 'udp') throw invalid(`${at}.protocol`, `${JSON.stringify(r.protocol)} is not tcp or udp`);
    if (r.protocol !== 'udp') m.tcp |= bit;
    if (r.protocol !== 'tcp') m.udp |= bit;
  });
  // The trie finds only the longest prefix, so each carries the rules of every prefix holding it.
  const all = [...prefixes.values()];
  for (const p of all) for (const q of all) if (q.len < p.len && cidrContains(q, p)) p.rules |= q.rules;
  const entry = (c: (typeof all)[number]) => {
    const key = Buffer.alloc(4 + c.addr.length);
    key.writeUInt32LE(c.len);
    c.addr.copy(key, 4);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(c.rules);
    return { key, value };
  };
  return {
    rodata: {
      rules_active: m.active, rules_not_addr: m.notAddr, rules_not_port: m.notPort,
      rules_tcp: m.tcp, rules_udp: m.udp, rules_any_proto: m.any,
      port_rules: Buffer.from(ports.buffer),
    },
    v4: all.filter((c) => c.family === 4).map(entry),
    v6: all.filter((c) => c.family === 6).map(entry),
    ids,
  };
}

/** Parses "addr" or "addr/len" (IPv4 or IPv6) of rule field where. */
function cidr(text: string, where: string): Cidr {
  try {
    return parseCidr(text);
  } catch (err) {
    throw invalid(where, (err as Error).message);
  }
}

const isPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535;
const isRange = (r: unknown): r is [number, number] =>
  Array.isArray(r) && r.length === 2 && isPort(r[0]) && isPort(r[1]) && r[0] <= r[1];
