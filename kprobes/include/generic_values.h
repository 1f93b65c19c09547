/* Selector values of the generic hook pipeline: the maps the agent sizes
 * before load and fills before attach, each key led by its filter's id,
 * and the lookups the filters share.
 *
 *   vigil_int_eq       integers (matchArgs, matchPIDs, matchNamespaces,
 *                      Protocol, Family, State)            int_in()
 *   vigil_str_eq       strings and paths, whole
 *   vigil_str_prefix   their prefixes (LPM trie)
 *   vigil_str_postfix  their postfixes, reversed (LPM trie)
 *   vigil_str_sub      SubString values, one set per filter
 *   vigil_net_lpm      CIDRs, port ranges, integer ranges  net_lookup()
 *   vigil_gate         a hook group's gate: the Prefix values of its gate
 *                      arg (id 0), each with the selectors it admits
 */
#ifndef VIGIL_GENERIC_VALUES_H
#define VIGIL_GENERIC_VALUES_H

#include "generic_state.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct vigil_int_key);
	__type(value, __u8);
} vigil_int_eq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct vigil_string_key);
	__type(value, __u8);
} vigil_str_eq SEC(".maps");

struct vigil_str_lpm {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_lpm_key);
	__type(value, __u8);
};

struct vigil_str_lpm vigil_str_prefix SEC(".maps");
struct vigil_str_lpm vigil_str_postfix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_substr_set);
} vigil_str_sub SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_net_key);
	__type(value, __u8);
} vigil_net_lpm SEC(".maps");

/* A hook group's gate: each Prefix value of the gate arg, with the mask of
 * the selectors whose filter holds it or a shorter prefix of it, so the
 * longest match admits every selector that may match. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_lpm_key);
	__type(value, vigil_selmask_t);
} vigil_gate SEC(".maps");

/* Is v one of the integers of filter id? */
static __noinline bool int_in(struct vigil_generic_scratch *s, __u16 id, __u64 v)
{
	s->ikey.id = id;
	s->ikey.pad0 = 0;
	s->ikey.pad1 = 0;
	s->ikey.value = v;
	return bpf_map_lookup_elem(&vigil_int_eq, &s->ikey) != NULL;
}

/* Is the value in k (its first bits bits) in vigil_net_lpm, under filter id and kind? */
static __always_inline bool net_lookup(struct vigil_net_key *k, __u16 id, __u8 kind, __u32 bits)
{
	k->prefixlen = 24 + bits;
	k->data[0] = id;
	k->data[1] = id >> 8;
	k->data[2] = kind;
	return bpf_map_lookup_elem(&vigil_net_lpm, k) != NULL;
}

#endif
