// SPDX-License-Identifier: GPL-2.0
/* The least a Prefix filter on openat's path does, as a reference for the
 * cost of Vigil's (benchmarks/minimal-filter.ts): on
 * syscalls/sys_enter_openat, read the path from user memory, look it up in
 * an LPM trie of prefixes, and count a match. No CO-RE: the tracepoint's
 * record is laid out as its format file says. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PATH_BYTES 256 /* the LPM trie's longest key data */

struct sys_enter_openat {
	__u64 common;
	__s64 syscall_nr;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

struct prefix_key {
	__u32 prefixlen; /* bits of data */
	char data[PATH_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct prefix_key);
	__type(value, __u8);
} prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} matches SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int minimal_filter(struct sys_enter_openat *ctx)
{
	struct prefix_key key;
	__u32 zero = 0;
	__u64 *count;
	long n = bpf_probe_read_user_str(key.data, sizeof(key.data), ctx->filename);

	if (n <= 1)
		return 0;
	key.prefixlen = 8 * (n - 1); /* the bytes before the NUL */
	if (!bpf_map_lookup_elem(&prefixes, &key))
		return 0;
	count = bpf_map_lookup_elem(&matches, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
