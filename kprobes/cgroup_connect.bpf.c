// SPDX-License-Identifier: GPL-2.0
/* Connect deny without BPF LSM: cgroup socket-address hooks that refuse
 * connect() and unconnected sendmsg() to denied destinations with EPERM.
 *
 *   destination address -> LPM trie (v4 or v6)  -> rules whose CIDRs hold it
 *   destination port    -> port_rules[port]     -> rules whose ranges hold it
 *   ctx->protocol       -> rules_tcp/udp/any    -> rules for that protocol
 *   a rule holding all three -> count the first such rule, return 0 (EPERM)
 *   otherwise                -> return 1 (allow)
 *
 * A rule is one bit of a u64 (slot 0..63). Negated conditions (NotDAddr,
 * NotDPort) and absent ones (any address, any port) are bits of
 * rules_not_addr / rules_not_port, which flip the lookup's bit: "any" is
 * "not in the empty set". An IPv4-mapped IPv6 destination also matches the
 * IPv4 rules. agent/sensors/connect-deny.ts fills rodata and the tries.
 */
#include "api.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_RULES 64
#define DENY 0
#define ALLOW 1

const volatile __u64 rules_active = 0;
const volatile __u64 rules_not_addr = 0;
const volatile __u64 rules_not_port = 0;
const volatile __u64 rules_tcp = 0; /* rules for TCP or any protocol */
const volatile __u64 rules_udp = 0; /* rules for UDP or any protocol */
const volatile __u64 rules_any_proto = 0;
const volatile __u64 port_rules[65536] = {};

/* LPM keys: prefix length, then the address in network byte order. */
struct v4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct v6_key {
	__u32 prefixlen;
	__u32 addr[4];
};

/* Value: the rules whose CIDRs contain this prefix (shorter ones included). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct v4_key);
	__type(value, __u64);
} connect_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct v6_key);
	__type(value, __u64);
} connect_v6 SEC(".maps");

/* Denials per rule slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, __u64);
} connect_denied SEC(".maps");

static __always_inline __u64 lookup_v4(__u32 addr)
{
	struct v4_key key = { .prefixlen = 32, .addr = addr };
	__u64 *rules = bpf_map_lookup_elem(&connect_v4, &key);

	return rules ? *rules : 0;
}

static __always_inline int verdict(struct bpf_sock_addr *ctx, __u64 addr_rules)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 protocol = ctx->protocol;
	__u64 proto, hit;
	__u32 i;

	proto = protocol == IPPROTO_TCP ? rules_tcp : protocol == IPPROTO_UDP ? rules_udp : rules_any_proto;
	hit = rules_active & proto & (addr_rules ^ rules_not_addr) & (port_rules[port] ^ rules_not_port);
	if (!hit)
		return ALLOW;
	for (i = 0; i < MAX_RULES; i++) {
		if (hit & (1ULL << i)) {
			__u64 *n = bpf_map_lookup_elem(&connect_denied, &i);

			if (n)
				*n += 1;
			break;
		}
	}
	return DENY;
}

static __always_inline int check4(struct bpf_sock_addr *ctx)
{
	return verdict(ctx, lookup_v4(ctx->user_ip4));
}

static __always_inline int check6(struct bpf_sock_addr *ctx)
{
	struct v6_key key = { .prefixlen = 128 };
	__u64 *found, rules;

	key.addr[0] = ctx->user_ip6[0];
	key.addr[1] = ctx->user_ip6[1];
	key.addr[2] = ctx->user_ip6[2];
	key.addr[3] = ctx->user_ip6[3];
	found = bpf_map_lookup_elem(&connect_v6, &key);
	rules = found ? *found : 0;
	/* ::ffff:a.b.c.d reaches IPv4 a.b.c.d without passing connect4. */
	if (key.addr[0] == 0 && key.addr[1] == 0 && key.addr[2] == bpf_htonl(0xffff))
		rules |= lookup_v4(key.addr[3]);
	return verdict(ctx, rules);
}

SEC("cgroup/connect4")
int vigil_connect4(struct bpf_sock_addr *ctx)
{
	return check4(ctx);
}

SEC("cgroup/sendmsg4")
int vigil_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check4(ctx);
}

SEC("cgroup/connect6")
int vigil_connect6(struct bpf_sock_addr *ctx)
{
	return check6(ctx);
}

SEC("cgroup/sendmsg6")
int vigil_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check6(ctx);
}
