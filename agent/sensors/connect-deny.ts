// Network deny without BPF LSM (kprobes/cgroup_connect.bpf.c): rules on
// destination CIDRs, ports and protocol, enforced by cgroup/connect4|6 and
// cgroup/sendmsg4|6 programs on the cgroup v2 root, so they cover every
// process on the host. connect() and unconnected sendmsg() to a denied
// destination fail with EPERM. Each rule counts its denials; with reports,
// each denial is also a record under the policy hook's id.
import { readFileSync } from 'node:fs';
import { BpfObject } from '../loader/object.js';
import { bpfObjectPath } from '../loader/paths.js';
import { VigilError } from '../errors.js';
import type { ConnectRule } from '../../policies/compiler/connect.js';
import type { SharedMaps } from '../loader/shared-maps.js';
import { cidrContains, parseCidr as parseNetCidr, type Cidr } from '../../policies/net/values.js';

export type { ConnectRule, Cidr };

/** One rule per bit of the BPF side's u64 masks. */
export const MAX_CONNECT_RULES = 64;
const PROGRAMS = ['vigil_connect4', 'vigil_connect6', 'vigil_sendmsg4', 'vigil_sendmsg6'];

/** What load() writes: rodata by variable name, LPM trie entries, rule ids by slot. */
export interface ConnectPlan {
  rodata: Record<string, bigint | Buffer>;
  v4: { key: Buffer; value: Buffer }[];
  v6: { key: Buffer; value: Buffer }[];
  ids: number[];
}

/** Where denial records go: the agent's ring buffer, under a hook id the agent knows. */
export interface DenyReports {
  shared: SharedMaps;
  hookId: number;
  /** Counter slot (output.h) of the records. */
  slot: number;
  /** The destination as a sock arg (daddr, dport) rather than a sockaddr. */
  sock: boolean;
}

const invalid = (where: string, what: string): VigilError => new VigilError('VIGIL_POLICY_INVALID', `${where}: ${what}`);

export class ConnectDenySensor {
  readonly name = 'connect-deny';
  private obj?: BpfObject;
  private ids: number[] = [];
  private cgroup?: string;
  private final = new Map<number, number>();

  /** Validates the rules, loads the programs, fills the tries and attaches to cgroupDir. */
  load(rules: ConnectRule[], cgroupDir: string = cgroup2Root(), reports?: DenyReports): void {
    if (this.obj) throw new Error('the connect-deny sensor is already loaded');
    const plan = compileRules(rules);
    const obj = BpfObject.open(bpfObjectPath('cgroup_connect'));
    this.obj = obj;
    try {
      if (reports) {
        obj.setRodata({ report_hook: BigInt(reports.hookId), counter_slot: BigInt(reports.slot), report_sock: reports.sock ? 1n : 0n });
        reports.shared.prepare(obj);
      }
      obj.setRodata(plan.rodata)
        .setMaxEntries('connect_v4', Math.max(1, plan.v4.length))
        .setMaxEntries('connect_v6', Math.max(1, plan.v6.length))
        .load();
      for (const [name, entries] of [['connect_v4', plan.v4], ['connect_v6', plan.v6]] as const) {
        const map = obj.map(name);
        for (const e of entries) map.update(e.key, e.value);
      }
      for (const p of PROGRAMS) obj.attachCgroup(p, cgroupDir);
    } catch (err) {
      this.close();
      throw err;
    }
    this.ids = plan.ids;
    this.cgroup = cgroupDir;
  }

  /** Denials per rule id, summed over CPUs; after close(), the last values. */
  counts(): Map<number, number> {
    if (!this.obj) return new Map(this.final);
    const map = this.obj.map('connect_denied');
    const out = new Map<number, number>();
    this.ids.forEach((id, slot) => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(slot);
      out.set(id, Number(map.lookupPerCpu(key).reduce((n, v) => n + v.readBigUInt64LE(0), 0n)));
    });
    return out;
  }

  mechanism(): { type: 'cgroup_connect'; cgroup: string; reason: string } {
    const cgroup = this.cgroup ?? cgroup2Root();
    return {
      type: 'cgroup_connect',
      cgroup,
      reason: `cgroup/connect4, connect6, sendmsg4 and sendmsg6 programs on ${cgroup} refuse denied destinations with EPERM for every process below it; needs no BPF LSM`,
    };
  }

  attached(): string[] {
    return this.obj?.attachedPrograms() ?? [];
  }

  /** Detaches every program and frees the maps. */
  close(): void {
    if (this.obj && this.cgroup) this.final = this.counts();
    this.obj?.close();
    this.obj = undefined;
  }
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
      const c = parseCidr(text, `${at}.cidrs[${j}]`);
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

/** Parses "addr" or "addr/len" (IPv4 or IPv6); host bits are cleared. */
export function parseCidr(text: string, where = 'cidr'): Cidr {
  try {
    return parseNetCidr(text);
  } catch (err) {
    throw invalid(where, (err as Error).message);
  }
}

const isPort = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 65535;
const isRange = (r: unknown): r is [number, number] =>
  Array.isArray(r) && r.length === 2 && isPort(r[0]) && isPort(r[1]) && r[0] <= r[1];

/** The first cgroup v2 mount in /proc/mounts. */
export function cgroup2Root(): string {
  const line = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new VigilError('VIGIL_MOUNT', 'no cgroup2 file system is mounted', { hint: 'mount -t cgroup2 none /sys/fs/cgroup' });
  return line.split(' ')[1].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
