// Override on a connect-type hook whose selectors use only destination
// address, destination port and protocol is enforced with cgroup connect
// programs (agent/sensors/connect-deny.ts), which work without BPF LSM.
import type { KProbeSpec } from '../types.generated.js';
import { parsePortRange } from '../net/values.js';

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

/** The connect rules of a kprobe hook, or undefined when it is not a connect deny that cgroup hooks can express. */
export function connectRules(k: KProbeSpec, firstId: number): ConnectRule[] | undefined {
  if (!CONNECT_CALLS.has(k.call) || !k.selectors?.length) return undefined;
  const rules: ConnectRule[] = [];
  for (const s of k.selectors) {
    const keys = Object.keys(s).filter((key) => (s as Record<string, unknown[]>)[key]?.length);
    if (keys.some((key) => key !== 'matchArgs' && key !== 'matchActions')) return undefined;
    if (!s.matchActions?.length || !s.matchActions.every((a) => a.action === 'Override')) return undefined;
    const rule: ConnectRule = { id: firstId + rules.length, cidrs: [] };
    for (const m of s.matchArgs ?? []) {
      if (!OPS.has(m.operator)) return undefined;
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
    rules.push(rule);
  }
  return rules;
}
