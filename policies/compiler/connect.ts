// Override on a connect-type hook whose selectors (Override, or Post before
// them to allow) use only the destination (address, port), protocol,
// family and process filters (matchPIDs, matchBinaries, matchNamespaces)
// is enforced with cgroup connect programs
// (kprobes/cgroup_connect.bpf.c, loaded by agent/sensors/connect-deny.ts),
// which work without BPF LSM. Both Vigil's tcp_connect form (DAddr, DPort
// on the sock) and Tetragon's security_socket_connect form (SAddr, SPort,
// Family on the sockaddr, Protocol on the socket) compile. This module
// finds such hooks, says why one is not, and compiles their rules into
// what the programs read:
//
//   rodata   rules_active, rules_not_addr, rules_not_port, rules_tcp,
//            rules_udp, rules_any_proto, rules_v4, rules_v6, rules_allow,
//            rules_silent: u64 masks, rule i is bit i, selector order:
//            the lowest rule that matches decides, as Tetragon's first
//            matching selector does
//            port_rules[65536]: u64, the rules naming each port
//            selector_rules[32]: u64, the rules of each hook selector, for
//            its process filters (vigil_hook, encoded as for generic hooks)
//   connect_v4, connect_v6   LPM tries: u32 prefix length, the address
//            (network order) -> u64 mask of the rules whose CIDRs hold it
import type { KProbeSpec } from '../types.generated.js';
import { VigilError } from '../../kernel/errors.js';
import { cidrContains, parseCidr, parsePortRange, type Cidr } from '../../kernel/net/values.js';

/** One rule per bit of the BPF side's u64 masks. */
export const MAX_CONNECT_RULES = 64;
/** Selectors of one hook whose process filters the programs evaluate (VIGIL_SELECTORS_MAX). */
const MAX_SELECTORS = 32;

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
  /** Absent: any protocol (ICMP and raw sockets too). */
  protocol?: 'tcp' | 'udp' | 'tcp+udp';
  /** The socket's family, 4 (connect4, sendmsg4) or 6; absent: both. An IPv4-mapped IPv6 destination is both. */
  family?: 4 | 6;
  /** The hook selector it came from, whose process filters (if any) it also needs. */
  selector?: number;
  /** Not a deny: a Post (or NoPost: silent) selector, whose matches connect. The first rule to match decides. */
  allow?: 'post' | 'silent';
}

/** Functions and syscalls whose Override means "this connect fails". */
export const CONNECT_CALLS = new Set([
  'tcp_connect', 'tcp_v4_connect', 'tcp_v6_connect', 'security_socket_connect', 'sys_connect', '__x64_sys_connect', 'connect',
]);

/** Kernel functions of TCP alone: a deny on them never reaches another protocol. */
const TCP_CALLS = new Set(['tcp_connect', 'tcp_v4_connect', 'tcp_v6_connect']);

const PROTOCOLS: Record<string, 'tcp' | 'udp'> = { IPPROTO_TCP: 'tcp', '6': 'tcp', IPPROTO_UDP: 'udp', '17': 'udp' };
const FAMILIES: Record<string, 4 | 6 | 'unix'> = { AF_INET: 4, '2': 4, AF_INET6: 6, '10': 6, AF_UNIX: 'unix', AF_LOCAL: 'unix', '1': 'unix' };

/** Selector fields the cgroup programs evaluate: the destination, and the process (generic_process.h). */
const PROCESS_FIELDS = new Set(['matchPIDs', 'matchBinaries', 'matchNamespaces']);
const DEST_FIELDS = new Set(['matchArgs', 'matchActions', 'label']);

/**
 * What each operator means on the connecting side. A sockaddr holds the
 * destination, which Tetragon matches as SAddr and SPort; a sock's DAddr
 * and DPort are the destination only once TCP connects it (tcp_connect).
 */
type Term = 'addr' | 'notAddr' | 'port' | 'notPort' | 'priv' | 'notPriv' | 'protocol' | 'family';
const SOCKADDR_TERMS: Record<string, Term> = {
  SAddr: 'addr', NotSAddr: 'notAddr', SPort: 'port', NotSPort: 'notPort',
  SPortPriv: 'priv', NotSPortPriv: 'notPriv', NotSportPriv: 'notPriv', Family: 'family',
};
const TCP_SOCK_TERMS: Record<string, Term> = {
  DAddr: 'addr', NotDAddr: 'notAddr', DPort: 'port', NotDPort: 'notPort',
  DPortPriv: 'priv', NotDPortPriv: 'notPriv', Protocol: 'protocol', Family: 'family',
};
const SOCKET_TERMS: Record<string, Term> = { Protocol: 'protocol', Family: 'family' };

/** Where the cgroup programs cannot enforce a hook, and why. */
export interface ConnectUnfit {
  field: string;
  why: string;
}

/** A connect hook's rules, or why the cgroup programs cannot enforce it. */
export type ConnectFit = { rules: ConnectRule[] } | { unfit: ConnectUnfit };

/** Port values as ranges; undefined when one does not parse (the linter names it). */
function parsePorts(values: string[]): [number, number][] | undefined {
  try {
    return values.map(parsePortRange);
  } catch {
    return undefined;
  }
}

class Unfit extends Error {
  constructor(readonly field: string, readonly why: string) {
    super(why);
  }
}

/** The terms of arg filter m of a hook on call with args, at path. */
function termOf(call: string, args: KProbeSpec['args'], op: string, index: number, at: string): Term {
  const type = args?.find((a) => a.index === index)?.type;
  const terms = type === 'sockaddr' ? SOCKADDR_TERMS : type === 'sock' && TCP_CALLS.has(call) ? TCP_SOCK_TERMS
    : type === 'sock' || type === 'socket' ? SOCKET_TERMS : undefined;
  if (!terms) throw new Unfit(`${at}.index`, `arg ${index} is ${type ? `a ${type}` : 'not declared'}; the cgroup connect programs see only the destination sockaddr and the socket`);
  const term = terms[op];
  if (term) return term;
  if (terms === SOCKET_TERMS && op in TCP_SOCK_TERMS) {
    throw new Unfit(`${at}.operator`, `${op} on the ${type} of ${call} is the socket before it connects, not the destination; match SAddr and SPort on the sockaddr arg`);
  }
  throw new Unfit(`${at}.operator`, `${op} on a ${type} arg is not a destination, protocol or family, which is all the cgroup connect programs see`);
}

/** Selector s (at path at) as a rule, or null when it can match no connect the programs see. */
function ruleOf(k: KProbeSpec, s: NonNullable<KProbeSpec['selectors']>[number], selector: number, id: number, at: string): ConnectRule | null {
  for (const [key, v] of Object.entries(s)) {
    if (v === undefined || (Array.isArray(v) && !v.length) || DEST_FIELDS.has(key) || PROCESS_FIELDS.has(key)) continue;
    throw new Unfit(`${at}.${key}`, `${key} is not evaluated by the cgroup connect programs (they evaluate matchArgs, matchPIDs, matchBinaries and matchNamespaces)`);
  }
  // Override denies. Post and NoPost (no actions is Post) allow what they match, as the first selector to match decides.
  const actions = s.matchActions?.length ? s.matchActions : [{ action: 'Post' as const }];
  const deny = actions.some((a) => a.action === 'Override');
  actions.forEach((a, j) => {
    const fits = deny ? a.action === 'Override' || a.action === 'Post' : a.action === 'Post' || a.action === 'NoPost';
    if (!fits) {
      throw new Unfit(`${at}.matchActions[${j}].action`, `${a.action} ${deny ? 'beside Override ' : ''}is not enforced by the cgroup connect programs, which deny (Override) or allow and post (Post, NoPost)`);
    }
  });
  const rule: ConnectRule = { id, cidrs: [], selector };
  if (!deny) rule.allow = actions.some((a) => a.action === 'Post') ? 'post' : 'silent';
  const seen = new Set<string>();
  for (const [j, m] of (s.matchArgs ?? []).entries()) {
    const where = `${at}.matchArgs[${j}]`;
    const term = termOf(k.call, k.args, m.operator, m.index ?? 0, where);
    // One filter per kind: a rule holds one address set and one port set (SAddr and NotSAddr together are not one set).
    const kind = term.replace(/^not/, '').toLowerCase().replace('priv', 'port');
    if (seen.has(kind)) throw new Unfit(`${where}.operator`, `a second ${kind} filter in one selector; the cgroup connect programs hold one ${kind} set per rule`);
    seen.add(kind);
    const values = (m.values ?? []).map(String);
    if (!values.length && (term === 'protocol' || term === 'family')) throw new Unfit(`${where}.values`, `${m.operator} without values matches nothing`);
    if (term === 'addr' || term === 'notAddr') {
      rule.cidrs.push(...values);
      rule.notCidrs = term === 'notAddr';
    } else if (term === 'port' || term === 'notPort' || term === 'priv' || term === 'notPriv') {
      rule.ports = term === 'priv' || term === 'notPriv' ? [[0, 1023]] : parsePorts(values);
      if (!rule.ports) throw new Unfit(`${where}.values`, 'a value is not a port or port range');
      rule.notPorts = term === 'notPort' || term === 'notPriv';
    } else if (term === 'protocol') {
      const protos = new Set(values.map((v) => PROTOCOLS[v]));
      if (protos.has(undefined as never)) throw new Unfit(`${where}.values`, 'the cgroup connect programs tell TCP and UDP apart, no other protocol');
      rule.protocol = protos.size === 1 ? [...protos][0] : 'tcp+udp';
    } else {
      const fams = new Set(values.map((v) => FAMILIES[v]));
      if (fams.has(undefined as never) || fams.has('unix')) throw new Unfit(`${where}.values`, 'the cgroup connect programs see AF_INET and AF_INET6 connects, no other family');
      if (fams.size === 1) rule.family = [...fams][0] as 4 | 6;
    }
  }
  // A hook on a TCP function implies TCP: the cgroup programs must not widen it to UDP's connect and sendmsg.
  if (TCP_CALLS.has(k.call)) {
    if (rule.protocol === 'udp') return null;
    rule.protocol = 'tcp';
  }
  return rule;
}

/**
 * The connect rules of kprobe hook k (at path), one per selector that can
 * match; undefined when k is not an Override on a connect function.
 */
export function connectFit(k: KProbeSpec, firstId: number, path = 'spec.kprobes[0]'): ConnectFit | undefined {
  if (!CONNECT_CALLS.has(k.call) || !k.selectors?.length) return undefined;
  if (!k.selectors.some((s) => s.matchActions?.some((a) => a.action === 'Override'))) return undefined;
  const rules: ConnectRule[] = [];
  try {
    k.selectors.forEach((s, i) => {
      const rule = ruleOf(k, s, i, firstId + rules.length, `${path}.selectors[${i}]`);
      if (rule) rules.push(rule);
    });
  } catch (err) {
    if (err instanceof Unfit) return { unfit: { field: err.field, why: err.why } };
    throw err;
  }
  return { rules };
}

/** The connect rules of a kprobe hook, or undefined when it is not a connect deny that cgroup hooks can express. */
export function connectRules(k: KProbeSpec, firstId: number): ConnectRule[] | undefined {
  const fit = connectFit(k, firstId);
  return fit && 'rules' in fit ? fit.rules : undefined;
}

/** Whether a rule's selector filters on the process, which the programs judge from the process map. */
export const hasProcessFilters = (s: NonNullable<KProbeSpec['selectors']>[number]): boolean =>
  [...PROCESS_FIELDS].some((f) => ((s as Record<string, unknown[] | undefined>)[f] ?? []).length > 0);

/** Rules to masks: rule i is bit i. "Any" address or port is "not in the empty set". */
export function compileRules(rules: ConnectRule[]): ConnectPlan {
  if (!Array.isArray(rules)) throw invalid('rules', 'must be an array');
  if (rules.length > MAX_CONNECT_RULES) throw invalid('rules', `${rules.length} rules, at most ${MAX_CONNECT_RULES}`);
  const m = { active: 0n, notAddr: 0n, notPort: 0n, tcp: 0n, udp: 0n, any: 0n, v4: 0n, v6: 0n, allow: 0n, silent: 0n };
  const bySelector = new BigUint64Array(MAX_SELECTORS);
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
    else if (!['tcp', 'udp', 'tcp+udp'].includes(r.protocol)) throw invalid(`${at}.protocol`, `${JSON.stringify(r.protocol)} is not tcp, udp or tcp+udp`);
    if (r.protocol !== 'udp') m.tcp |= bit;
    if (r.protocol !== 'tcp') m.udp |= bit;
    if (r.allow !== undefined && r.allow !== 'post' && r.allow !== 'silent') throw invalid(`${at}.allow`, `${JSON.stringify(r.allow)} is not post or silent`);
    if (r.allow) m.allow |= bit;
    if (r.allow === 'silent') m.silent |= bit;
    if (r.family !== undefined && r.family !== 4 && r.family !== 6) throw invalid(`${at}.family`, `${JSON.stringify(r.family)} is not 4 or 6`);
    if (r.family !== 6) m.v4 |= bit;
    if (r.family !== 4) m.v6 |= bit;
    if (r.selector !== undefined) {
      if (!Number.isInteger(r.selector) || r.selector < 0 || r.selector >= MAX_SELECTORS) throw invalid(`${at}.selector`, `${String(r.selector)} is not a selector index 0..${MAX_SELECTORS - 1}`);
      bySelector[r.selector] |= bit;
    }
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
      rules_tcp: m.tcp, rules_udp: m.udp, rules_any_proto: m.any, rules_v4: m.v4, rules_v6: m.v6,
      rules_allow: m.allow, rules_silent: m.silent,
      port_rules: Buffer.from(ports.buffer), selector_rules: Buffer.from(bySelector.buffer),
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
