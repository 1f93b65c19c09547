/* Network filters of the generic hook pipeline, on the tuple of a sock,
 * socket, sockaddr or skb arg (generic_net.h):
 *
 *   [Not]SAddr, [Not]DAddr  the address in vigil_net_lpm under the filter id
 *                           (an IPv4-mapped IPv6 address also as IPv4)
 *   [Not]SPort, [Not]DPort  the port in vigil_net_lpm (ranges as prefixes)
 *   [Not]{S,D}PortPriv      port < 1024
 *   Protocol, Family, State the number in vigil_int_eq under the filter id
 */
#ifndef VIGIL_GENERIC_NET_FILTER_H
#define VIGIL_GENERIC_NET_FILTER_H

#include "generic_net.h"
#include "generic_values.h"

/* Is addr (of family) in the CIDRs of filter id? */
static __noinline bool net_addr_in(__u16 id, __u16 family, const __u8 *addr)
{
	struct vigil_net_key k = {};
	__u32 w[3];

	if (family == NET_AF_INET) {
		__builtin_memcpy(&k.data[3], addr, 4);
		return net_lookup(&k, id, VIGIL_NET_KEY_V4, 32);
	}
	if (family != NET_AF_INET6)
		return false;
	__builtin_memcpy(&k.data[3], addr, 16);
	if (net_lookup(&k, id, VIGIL_NET_KEY_V6, 128))
		return true;
	/* ::ffff:a.b.c.d */
	__builtin_memcpy(w, addr, sizeof(w));
	if (w[0] || w[1] || w[2] != bpf_htonl(0xffff))
		return false;
	__builtin_memset(&k.data[3], 0, 16);
	__builtin_memcpy(&k.data[3], addr + 12, 4);
	return net_lookup(&k, id, VIGIL_NET_KEY_V4, 32);
}

/* Is port in the ranges of filter id? */
static __noinline bool net_port_in(__u16 id, __u16 port)
{
	struct vigil_net_key k = {};

	k.data[3] = port >> 8;
	k.data[4] = port;
	return net_lookup(&k, id, VIGIL_NET_KEY_PORT, 16);
}

/* A network filter on the tuple at data[off], len bytes of it. */
static __noinline bool net_filter(struct vigil_generic_scratch *s, __u8 op, __u16 id, __u32 off, __u32 len)
{
	struct vigil_net_arg *n;
	__u64 o = off;

	if (len < sizeof(*n) || off > ARGS_DATA_MAX - sizeof(*n))
		return false;
	_Static_assert(ARGS_DATA_MASK == 16383, "data offset mask");
	BOUND(o, 16383);
	n = (struct vigil_net_arg *)&s->data[o];
	switch (op) {
	case VIGIL_FOP_SADDR: return net_addr_in(id, n->family, n->saddr);
	case VIGIL_FOP_NOT_SADDR: return !net_addr_in(id, n->family, n->saddr);
	case VIGIL_FOP_DADDR: return net_addr_in(id, n->family, n->daddr);
	case VIGIL_FOP_NOT_DADDR: return !net_addr_in(id, n->family, n->daddr);
	case VIGIL_FOP_SPORT: return net_port_in(id, n->sport);
	case VIGIL_FOP_NOT_SPORT: return !net_port_in(id, n->sport);
	case VIGIL_FOP_DPORT: return net_port_in(id, n->dport);
	case VIGIL_FOP_NOT_DPORT: return !net_port_in(id, n->dport);
	case VIGIL_FOP_SPORT_PRIV: return n->sport < 1024;
	case VIGIL_FOP_NOT_SPORT_PRIV: return n->sport >= 1024;
	case VIGIL_FOP_DPORT_PRIV: return n->dport < 1024;
	case VIGIL_FOP_NOT_DPORT_PRIV: return n->dport >= 1024;
	case VIGIL_FOP_PROTOCOL: return int_in(s, id, n->protocol);
	case VIGIL_FOP_FAMILY: return int_in(s, id, n->family);
	case VIGIL_FOP_STATE: return int_in(s, id, n->state);
	}
	return false;
}

#endif
