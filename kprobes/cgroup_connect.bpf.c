// SPDX-License-Identifier: GPL-2.0
/* Connect deny without BPF LSM: cgroup socket-address hooks that refuse
 * connect() and unconnected sendmsg() to denied destinations with EPERM.
 *
 *   destination address -> LPM trie (v4 or v6)  -> rules whose CIDRs hold it
 *   destination port    -> port_rules[port]     -> rules whose ranges hold it
 *   ctx->protocol       -> rules_tcp/udp/any    -> rules for that protocol
 *   socket family       -> rules_v4/v6          -> rules for that family
 *   rules holding all four, if any selector filters on the process:
 *     process_pass() (generic_process.h, config in vigil_hook) -> the
 *     selectors whose matchPIDs, matchBinaries, matchNamespaces pass
 *     -> selector_rules[sel]                    -> their rules
 *   the first rule left (rules are in selector order) decides, as
 *   Tetragon's first matching selector does; it is counted, then:
 *     a deny (Override)       -> report it, return 0 (EPERM)
 *     an allow (Post, NoPost) -> report it as a Post (not NoPost), return 1
 *   no rule left -> return 1 (allow)
 *
 * The report is a VIGIL_OP_GENERIC record under the policy hook's id with
 * one network arg, the destination (a sock's daddr and dport, or a
 * sockaddr's address and port), action Override and return -EPERM (or
 * Post and 0): the agent turns it into the hook's process_kprobe event.
 *
 * A rule is one bit of a u64 (slot 0..63). Negated conditions (NotDAddr,
 * NotDPort) and absent ones (any address, any port) are bits of
 * rules_not_addr / rules_not_port, which flip the lookup's bit: "any" is
 * "not in the empty set". An IPv4-mapped IPv6 destination also matches the
 * IPv4 rules, and counts as either family: it reaches an IPv4 host.
 * agent/sensors/connect-deny.ts fills rodata, the tries and the process
 * filters' value maps.
 *
 * A deny of a policy limited to pods (scoped) first checks that the
 * connecting task's cgroup, or an ancestor, is in the policy's scope
 * (scope.h); outside it, the program allows.
 */
#include "api.h"
#include <bpf/bpf_endian.h>
#include "events.h"
#include "output.h"
#include "process_map.h"
#include "scope.h"
/* The generic filter headers also carry the arg stages, unused here. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#include "generic_process.h"
#pragma clang diagnostic pop

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
const volatile __u64 rules_v4 = 0; /* rules for AF_INET sockets */
const volatile __u64 rules_v6 = 0; /* rules for AF_INET6 sockets */
const volatile __u64 rules_allow = 0;  /* Post and NoPost selectors: their matches connect */
const volatile __u64 rules_silent = 0; /* NoPost: ... unreported */
const volatile __u64 port_rules[65536] = {};
const volatile __u64 selector_rules[VIGIL_SELECTORS_MAX] = {}; /* the rules of each hook selector */
const volatile __u32 report_hook = 0;  /* hook id of the deny records; 0: none */
const volatile __u32 counter_slot = 0; /* output.h counters of the deny records */
const volatile __u8 report_sock = 0;   /* 1: the arg is a sock (daddr, dport); 0: a sockaddr (saddr, sport) */
const volatile __u8 scoped = 0;        /* 1: only tasks in the policy's scope (vigil_scope) are denied */

#define EPERM 1
#define AF_INET 2
#define AF_INET6 10

struct deny_report {
	struct vigil_msg_generic msg;
	struct vigil_net_arg dest;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct deny_report);
} deny_scratch SEC(".maps");

/* A record of the verdict: who, and the destination (addr: network order,
 * 4 or 16 bytes by family; connect4 programs may not read user_ip6). */
static __always_inline void report(struct bpf_sock_addr *ctx, __u16 port, const __u32 *addr, __u16 family, bool deny)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct deny_report *r;
	__u32 zero = 0;

	if (!report_hook)
		return;
	r = bpf_map_lookup_elem(&deny_scratch, &zero);
	if (!r)
		return;
	__builtin_memset(r, 0, sizeof(*r));
	vigil_process_id_of(pid_tgid >> 32, &r->msg.proc);
	r->msg.tid = (__u32)pid_tgid;
	r->msg.hook_id = report_hook;
	r->msg.ret = deny ? -EPERM : 0;
	r->msg.action = deny ? VIGIL_ACTION_OVERRIDE : VIGIL_ACTION_POST;
	r->msg.selector = 1;
	r->msg.arg_count = 1;
	r->msg.arg_len[0] = sizeof(r->dest);
	r->dest.family = family;
	r->dest.protocol = ctx->protocol;
	if (report_sock)
		r->dest.dport = port;
	else
		r->dest.sport = port;
	if (family == AF_INET)
		__builtin_memcpy(report_sock ? r->dest.daddr : r->dest.saddr, addr, 4);
	else
		__builtin_memcpy(report_sock ? r->dest.daddr : r->dest.saddr, addr, 16);
	vigil_emit(r, sizeof(*r), VIGIL_OP_GENERIC, counter_slot);
}

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

/* Matches per rule slot: denials, or a Post rule's allowed connects. */
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

/* The rules whose selectors' process filters pass for the current task;
 * all when no selector has any (vigil_hook is then empty). */
static __always_inline __u64 process_rules(void)
{
	struct select_ctx c = { .tgid = bpf_get_current_pid_tgid() >> 32, .matched = -1 };
	struct vigil_generic_scratch *s;
	__u64 rules = 0;
	vigil_selmask_t pass;

	if (!has_process_filters())
		return ~0ULL;
	s = generic_scratch();
	if (!s)
		return 0;
	pass = process_pass(s, &c);
#pragma unroll
	for (int i = 0; i < VIGIL_SELECTORS_MAX; i++)
		if (pass & SEL_BIT(i))
			rules |= selector_rules[i];
	return rules;
}

/* fam_rules: the rules for the socket's family (both for an IPv4-mapped destination). */
static __always_inline int verdict(struct bpf_sock_addr *ctx, __u64 addr_rules, __u64 fam_rules, const __u32 *addr, __u16 family)
{
	__u32 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 protocol = ctx->protocol;
	__u64 proto, hit;
	__u32 i;

	/* 6.1's verifier loses the bounds of a byte swap: bound the index again */
	asm volatile("%0 &= 0xffff" : "+r"(port));
	proto = protocol == IPPROTO_TCP ? rules_tcp : protocol == IPPROTO_UDP ? rules_udp : rules_any_proto;
	hit = rules_active & proto & fam_rules & (addr_rules ^ rules_not_addr) & (port_rules[port] ^ rules_not_port);
	if (!hit)
		return ALLOW;
	hit &= process_rules();
	if (!hit)
		return ALLOW;
	for (i = 0; i < MAX_RULES; i++) {
		__u64 bit = 1ULL << i;
		__u64 *n;

		if (!(hit & bit))
			continue;
		n = bpf_map_lookup_elem(&connect_denied, &i);
		if (n)
			*n += 1;
		if (bit & rules_allow) {
			if (!(bit & rules_silent))
				report(ctx, port, addr, family, false);
			return ALLOW;
		}
		report(ctx, port, addr, family, true);
		return DENY;
	}
	return DENY;
}

static __always_inline int check4(struct bpf_sock_addr *ctx)
{
	__u32 addr = ctx->user_ip4;

	if (scoped && !vigil_cgroup_in_scope())
		return ALLOW;
	return verdict(ctx, lookup_v4(addr), rules_v4, &addr, AF_INET);
}

static __always_inline int check6(struct bpf_sock_addr *ctx)
{
	struct v6_key key = { .prefixlen = 128 };
	__u64 *found, rules, fam = rules_v6;

	if (scoped && !vigil_cgroup_in_scope())
		return ALLOW;
	key.addr[0] = ctx->user_ip6[0];
	key.addr[1] = ctx->user_ip6[1];
	key.addr[2] = ctx->user_ip6[2];
	key.addr[3] = ctx->user_ip6[3];
	found = bpf_map_lookup_elem(&connect_v6, &key);
	rules = found ? *found : 0;
	/* ::ffff:a.b.c.d reaches IPv4 a.b.c.d without passing connect4. */
	if (key.addr[0] == 0 && key.addr[1] == 0 && key.addr[2] == bpf_htonl(0xffff)) {
		rules |= lookup_v4(key.addr[3]);
		fam |= rules_v4;
	}
	return verdict(ctx, rules, fam, key.addr, AF_INET6);
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
