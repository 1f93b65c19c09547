// Names of network constants as Tetragon spells them, with their Linux
// numbers: selectors accept either (Protocol, Family, State), and events
// print the names (sock_arg, sockaddr_arg, skb_arg).

export const PROTOCOL_NUMBERS: Record<string, number> = {
  IPPROTO_IP: 0, IPPROTO_ICMP: 1, IPPROTO_IGMP: 2, IPPROTO_TCP: 6, IPPROTO_UDP: 17, IPPROTO_IPV6: 41,
  IPPROTO_GRE: 47, IPPROTO_ICMPV6: 58, IPPROTO_SCTP: 132, IPPROTO_UDPLITE: 136, IPPROTO_RAW: 255, IPPROTO_MPTCP: 262,
};

export const FAMILY_NUMBERS: Record<string, number> = {
  AF_UNSPEC: 0, AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17, AF_VSOCK: 40, AF_XDP: 44,
};

export const TCP_STATE_NUMBERS: Record<string, number> = {
  TCP_ESTABLISHED: 1, TCP_SYN_SENT: 2, TCP_SYN_RECV: 3, TCP_FIN_WAIT1: 4, TCP_FIN_WAIT2: 5, TCP_TIME_WAIT: 6, TCP_CLOSE: 7,
  TCP_CLOSE_WAIT: 8, TCP_LAST_ACK: 9, TCP_LISTEN: 10, TCP_CLOSING: 11, TCP_NEW_SYN_RECV: 12,
};

export const SOCK_TYPE_NUMBERS: Record<string, number> = {
  SOCK_STREAM: 1, SOCK_DGRAM: 2, SOCK_RAW: 3, SOCK_RDM: 4, SOCK_SEQPACKET: 5, SOCK_DCCP: 6, SOCK_PACKET: 10,
};

export const AF_INET = FAMILY_NUMBERS.AF_INET;
export const AF_INET6 = FAMILY_NUMBERS.AF_INET6;
export const AF_UNIX = FAMILY_NUMBERS.AF_UNIX;

/** Number to name; AF_UNIX over its alias AF_LOCAL. Unknown numbers print as the number. */
function byNumber(names: Record<string, number>): (n: number) => string {
  const map = new Map<number, string>();
  for (const [name, n] of Object.entries(names)) if (!map.has(n)) map.set(n, name);
  return (n) => map.get(n) ?? String(n);
}

export const protocolName = byNumber(PROTOCOL_NUMBERS);
export const familyName = byNumber(FAMILY_NUMBERS);
export const tcpStateName = byNumber(TCP_STATE_NUMBERS);
export const sockTypeName = byNumber(SOCK_TYPE_NUMBERS);

/** A symbolic name from names, or a decimal or 0x number; undefined when it is neither. */
export function namedNumber(v: string, names: Record<string, number>): number | undefined {
  const s = v.trim();
  if (s in names) return names[s];
  return /^(0x[0-9a-f]+|\d+)$/i.test(s) ? Number(s) : undefined;
}
