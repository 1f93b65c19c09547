/* Network arguments of the generic hook pipeline: a struct sock, socket,
 * sockaddr or sk_buff read (CO-RE) into the fixed tuple struct
 * vigil_net_arg (events.h) that the record carries and the network
 * filters (generic_net_filter.h) read.
 *
 *   sock      family, type, protocol, state, mark, priority, addresses and
 *             ports from sock_common (IPv4 or IPv6), cookie = its address
 *   socket    its sock
 *   sockaddr  family, address and port (AF_INET, AF_INET6); kernel or user
 *             memory (syscall hooks); as saddr and sport. An AF_UNIX one
 *             is followed by its sun_path (VIGIL_NET_UNIX_PATH bytes)
 *   sk_buff   hash, len, priority, mark; family, protocol and addresses
 *             from the IPv4 or IPv6 header; ports from the TCP or UDP one
 */
#ifndef VIGIL_GENERIC_NET_H
#define VIGIL_GENERIC_NET_H

#include "generic_state.h"
#include <bpf/bpf_endian.h>

#define NET_AF_UNIX 1
#define NET_AF_INET 2
#define NET_AF_INET6 10
#define NET_IPPROTO_TCP 6
#define NET_IPPROTO_UDP 17

static __always_inline void net_from_sock(struct vigil_net_arg *n, struct sock *sk)
{
	__u32 v4;

	n->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	n->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	n->type = BPF_CORE_READ(sk, sk_type);
	n->protocol = BPF_CORE_READ(sk, sk_protocol);
	n->mark = BPF_CORE_READ(sk, sk_mark);
	n->priority = BPF_CORE_READ(sk, sk_priority);
	n->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	n->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	n->cookie = (__u64)sk;
	if (n->family == NET_AF_INET) {
		v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(n->saddr, &v4, 4);
		v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(n->daddr, &v4, 4);
	} else if (n->family == NET_AF_INET6) {
		bpf_core_read(n->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(n->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* sockaddr_in: family, port, addr; sockaddr_in6: family, port, flowinfo, addr. */
static __always_inline bool net_from_sockaddr(struct vigil_net_arg *n, const void *p, bool user)
{
	__u8 b[28] = {};
	__u16 port;

	/* A sockaddr_in may end where readable memory does: read its 16 bytes alone. */
	if ((user ? bpf_probe_read_user(b, sizeof(b), p) : bpf_probe_read_kernel(b, sizeof(b), p)) &&
	    (user ? bpf_probe_read_user(b, 16, p) : bpf_probe_read_kernel(b, 16, p)))
		return false;
	__builtin_memcpy(&n->family, b, 2);
	__builtin_memcpy(&port, &b[2], 2);
	if (n->family == NET_AF_INET) {
		__builtin_memcpy(n->saddr, &b[4], 4);
		n->sport = bpf_ntohs(port);
	} else if (n->family == NET_AF_INET6) {
		__builtin_memcpy(n->saddr, &b[8], 16);
		n->sport = bpf_ntohs(port);
	}
	return true;
}

static __always_inline void net_from_skb(struct vigil_net_arg *n, struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 ports[2] = {};
	struct ipv6hdr ip6;
	struct iphdr ip;
	__u8 version = 0;

	n->hash = BPF_CORE_READ(skb, hash);
	n->len = BPF_CORE_READ(skb, len);
	n->priority = BPF_CORE_READ(skb, priority);
	n->mark = BPF_CORE_READ(skb, mark);
	if (nh == 0xffff || bpf_probe_read_kernel(&version, 1, head + nh))
		return;
	if (version >> 4 == 4) {
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		n->family = NET_AF_INET;
		n->protocol = ip.protocol;
		__builtin_memcpy(n->saddr, &ip.saddr, 4);
		__builtin_memcpy(n->daddr, &ip.daddr, 4);
		if (th == 0xffff || th == nh)
			th = nh + ip.ihl * 4;
	} else if (version >> 4 == 6) {
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		n->family = NET_AF_INET6;
		n->protocol = ip6.nexthdr;
		__builtin_memcpy(n->saddr, &ip6.saddr, 16);
		__builtin_memcpy(n->daddr, &ip6.daddr, 16);
		if (th == 0xffff || th == nh)
			th = nh + sizeof(ip6);
	} else {
		return;
	}
	if (n->protocol != NET_IPPROTO_TCP && n->protocol != NET_IPPROTO_UDP)
		return;
	if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
		return;
	n->sport = bpf_ntohs(ports[0]);
	n->dport = bpf_ntohs(ports[1]);
}

/* sun_path after the tuple: its whole 108 bytes, or up to its NUL where the
 * sockaddr_un ends before a page that cannot be read; returns the bytes put. */
static __always_inline __u32 put_unix_path(struct vigil_generic_scratch *s, const void *p, __u32 at, bool user, __u8 *flags)
{
	const void *path = p + 2;
	void *dst;
	long r;

	if (at > ARGS_DATA_MAX - VIGIL_NET_UNIX_PATH) {
		*flags |= VIGIL_ARG_TRUNCATED;
		return 0;
	}
	dst = &s->data[at & ARGS_DATA_MASK];
	r = user ? bpf_probe_read_user(dst, VIGIL_NET_UNIX_PATH, path) : bpf_probe_read_kernel(dst, VIGIL_NET_UNIX_PATH, path);
	if (!r)
		return VIGIL_NET_UNIX_PATH;
	r = user ? bpf_probe_read_user_str(dst, VIGIL_NET_UNIX_PATH, path) : bpf_probe_read_kernel_str(dst, VIGIL_NET_UNIX_PATH, path);
	if (r > 0)
		return r;
	*flags |= VIGIL_ARG_ERROR;
	return 0;
}

static __always_inline bool is_net_kind(__u8 kind)
{
	return kind >= VIGIL_ARG_SOCK && kind <= VIGIL_ARG_SKB;
}

/* Reads network arg k (raw: its pointer) into data[pos]; returns its length. */
static __noinline __u32 put_net(struct vigil_generic_scratch *s, __u32 k, __u64 raw, __u32 pos, __u8 *flags)
{
	const volatile struct vigil_arg_config *a;
	struct vigil_net_arg n = {};
	void *p = (void *)raw;

	if (k >= VIGIL_HOOK_ARGS_MAX || pos > ARGS_DATA_MAX - sizeof(n)) {
		*flags |= VIGIL_ARG_TRUNCATED;
		return 0;
	}
	a = &vigil_hook.args[k];
	if (!p) {
		*flags |= VIGIL_ARG_ERROR;
	} else {
		switch (a->kind) {
		case VIGIL_ARG_SOCKET:
			p = BPF_CORE_READ((struct socket *)p, sk);
			if (!p) {
				*flags |= VIGIL_ARG_ERROR;
				break;
			}
			/* fall through */
		case VIGIL_ARG_SOCK:
			net_from_sock(&n, p);
			break;
		case VIGIL_ARG_SOCKADDR:
			if (!net_from_sockaddr(&n, p, a->flags & VIGIL_SRC_USER))
				*flags |= VIGIL_ARG_ERROR;
			break;
		case VIGIL_ARG_SKB:
			net_from_skb(&n, p);
			break;
		}
	}
	bpf_probe_read_kernel(&s->data[pos & ARGS_DATA_MASK], sizeof(n), &n);
	if (a->kind == VIGIL_ARG_SOCKADDR && n.family == NET_AF_UNIX && p)
		return sizeof(n) + put_unix_path(s, p, pos + sizeof(n), a->flags & VIGIL_SRC_USER, flags);
	return sizeof(n);
}

#endif
