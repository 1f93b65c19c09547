/* State of a generic hook program: its configuration (rodata, written by
 * the agent before load), its per-CPU scratch (the record being built and
 * the keys of lookups), and rateLimit's last posts. The selectors' values
 * are in generic_values.h. */
#ifndef VIGIL_GENERIC_STATE_H
#define VIGIL_GENERIC_STATE_H

#include "events.h"
#include "generic_config.h"
#include "scope.h"

/* Written by the agent before load (policies/compiler/encode.ts). */
const volatile struct vigil_hook_config vigil_hook = {};

/* The generation of each hook group that runs (the agent's, shared). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_GROUP_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} vigil_group_gen SEC(".maps");

/* A hook group's program runs only while it is its group's current generation. */
static __always_inline bool vigil_group_current(void)
{
	__u32 slot = vigil_hook.group_slot, *gen;

	if (!vigil_hook.nmembers)
		return true;
	gen = bpf_map_lookup_elem(&vigil_group_gen, &slot);
	return gen && *gen == vigil_hook.generation;
}

/* The first test of every generic program, before it reads an argument: a
 * scoped hook acts only on tasks in its policy's scope (scope.h), and a
 * hook group's program only while it is its group's current one. From
 * rodata, so the verifier drops what a hook does not use. */
static __always_inline bool vigil_in_scope(void)
{
	return (!vigil_hook.scoped || vigil_cgroup_in_scope()) && vigil_group_current();
}

#define ARGS_DATA_MAX (4 * VIGIL_ARG_BYTES_MAX) /* all args' bytes of one record */
#define ARGS_DATA_MASK (ARGS_DATA_MAX - 1)
#define BIN_OFF (ARGS_DATA_MAX + VIGIL_ARG_BYTES_MAX) /* the process's binary, for matchBinaries */
#define PBIN_OFF (BIN_OFF + VIGIL_BINARY_MAX)         /* its parent's, for matchParentBinaries */

#define RATE_BYTES_PER_ARG 40
#define RATE_MAP_SIZE 4096

/* rateLimit: what makes two posts the same (Tetragon's choice: the first
 * bytes of each arg), per selector and scope. */
struct vigil_rate_key {
	__u32 selector;
	__u32 who; /* tid, tgid or 0, by scope */
	__u8 data[VIGIL_HOOK_ARGS_MAX * RATE_BYTES_PER_ARG];
};

struct vigil_generic_scratch {
	struct vigil_msg_generic msg;
	char data[PBIN_OFF + VIGIL_BINARY_MAX]; /* follows msg: the record's variable part */
	__u64 val[VIGIL_HOOK_ARGS_MAX];        /* integer args, for filters; path args: their i_mode (FileType) */
	__u32 off[VIGIL_HOOK_ARGS_MAX];        /* where each arg's bytes start in data */
	struct vigil_int_key ikey;
	struct vigil_string_key skey;
	struct vigil_lpm_key lkey __attribute__((aligned(8)));
	struct vigil_substr_set sub; /* the values of the SubString filter being run */
	struct vigil_rate_key rkey;
	__u32 bin_len;  /* full length of the binary path; 0: unknown */
	__u32 pbin_len; /* ... of the parent's */
	struct vigil_caps caps;       /* the task's, for matchCapabilities */
	__u32 ns[VIGIL_NS_TYPES];     /* its namespaces, for matchNamespaces */
	__u32 userns_level;           /* its user namespace's level: 0 is the initial one */
	__u64 raw[VIGIL_HOOK_ARGS_MAX]; /* the raw values (buffers read their size arg's); return probes: raw[nargs] is the return value */
	/* A hook group's walk (generic.h), here rather than on the stack, where
	 * the verifier would follow each value the walk gives them. */
	vigil_selmask_t group_pass; /* selectors left to try */
	__u64 group_done;           /* members that matched: a bit each */
	__s64 group_ret;            /* the first Override's error */
	__u32 group_size;           /* the record's args bytes */
	char slack[64]; /* bounds-checked copies into rkey may reach past it */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_generic_scratch);
} vigil_generic_scratch SEC(".maps");

/* A vigil_selmask_t bit per selector. */
#define SEL_BIT(i) (1ull << (i))

/* Masks v in a way clang cannot drop as redundant, so the verifier sees the bound. */
#define BOUND(v, mask) asm volatile("%[x] &= " #mask : [x] "+r"(v))

/* rateLimit: when each (selector, scope, args) was last posted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RATE_MAP_SIZE);
	__type(key, struct vigil_rate_key);
	__type(value, __u64);
} vigil_rate SEC(".maps");

/* Selector sel, its index bounded where the verifier can see it. */
static __always_inline const volatile struct vigil_selector *selector_at(__u32 sel)
{
	__u64 i = sel;

	_Static_assert(VIGIL_SELECTORS_MAX == 64, "selector index mask");
	BOUND(i, 63);
	return &vigil_hook.selectors[i];
}

static __always_inline struct vigil_generic_scratch *generic_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vigil_generic_scratch, &zero);
}

#endif
