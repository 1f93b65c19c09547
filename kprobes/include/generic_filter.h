/* Selector filters of the generic hook pipeline: integers (inline value or
 * hash map, or ranges in an LPM trie), strings and paths (hash map, prefix and reversed-postfix LPM
 * tries, substrings: generic_substr.h; file types from the inode), network args (generic_net_filter.h), pids (with ancestors for
 * followForks), the process's and its parent's binary, its namespaces and
 * capabilities, and their changes since exec. */
#ifndef VIGIL_GENERIC_FILTER_H
#define VIGIL_GENERIC_FILTER_H

#include "generic_state.h"
#include "generic_values.h"
#include "generic_substr.h"
#include "generic_net_filter.h"
#include "generic_cred.h"
#include "process_map.h"
#include "task.h"
#include "generic_undecided.h"

/* InMap, InRange: is v in the values and ranges of filter id? Signed
 * values are keyed with the sign bit flipped, which keeps their order. */
static __noinline bool int_in_ranges(__u16 id, __u64 v, bool sgn)
{
	struct vigil_net_key k = {};

	if (sgn)
		v ^= 1ull << 63;
#pragma unroll
	for (int i = 0; i < 8; i++)
		k.data[3 + i] = v >> (56 - 8 * i);
	return net_lookup(&k, id, VIGIL_NET_KEY_INT, 64);
}

/* Any of several values: GT holds its smallest, LT its largest, Mask them ORed. */
static __always_inline bool int_filter(struct vigil_generic_scratch *s, const volatile struct vigil_arg_filter *f,
				       __u64 v, bool sgn)
{
	__u64 x = f->value;

	switch (f->op) {
	case VIGIL_FOP_EQ:
		return int_in(s, f->id, v);
	case VIGIL_FOP_NEQ:
		return !int_in(s, f->id, v);
	case VIGIL_FOP_GT:
		return sgn ? (__s64)v > (__s64)x : v > x;
	case VIGIL_FOP_LT:
		return sgn ? (__s64)v < (__s64)x : v < x;
	case VIGIL_FOP_MASK:
		return (v & x) != 0;
	case VIGIL_FOP_IN_RANGE:
		return int_in_ranges(f->id, v, sgn);
	case VIGIL_FOP_NOT_IN_RANGE:
		return !int_in_ranges(f->id, v, sgn);
	}
	return false;
}

/* Equal / In: are the len bytes at data[off] one of the filter's values? */
static __noinline bool str_equal(struct vigil_generic_scratch *s, __u16 id, __u32 off, __u32 len)
{
	__u64 n = len;

	if (len > VIGIL_STRING_KEY_MAX || off > PBIN_OFF)
		return false;
	__builtin_memset(&s->skey, 0, sizeof(s->skey));
	s->skey.id = id;
	s->skey.len = len;
	BOUND(n, 511); /* len <= VIGIL_STRING_KEY_MAX already */
	bpf_probe_read_kernel(s->skey.s, n, &s->data[off]);
	return bpf_map_lookup_elem(&vigil_str_eq, &s->skey) != NULL;
}

/* Copies VIGIL_LPM_DATA_MAX bytes from data[off] to lkey.data a word at a
 * time, cheaper than a helper call; bytes past prefixlen are ignored. */
static __always_inline void lkey_fill(struct vigil_generic_scratch *s, __u64 off)
{
	const __u64 *src;
	__u64 *dst = __builtin_assume_aligned(s->lkey.data, 8);

	_Static_assert(VIGIL_LPM_DATA_MAX % 8 == 4, "lkey copy: words and a tail");
	asm volatile("" : "+r"(off)); /* keep the check on the register the loads use */
	if (off > PBIN_OFF)
		return;
	src = __builtin_assume_aligned(&s->data[off], 8); /* x86 loads need no alignment */
#pragma unroll
	for (int w = 0; w < VIGIL_LPM_DATA_MAX / 8; w++)
		dst[w] = src[w];
	*(__u32 *)&dst[VIGIL_LPM_DATA_MAX / 8] = *(const __u32 *)&src[VIGIL_LPM_DATA_MAX / 8];
}

/* Prefix: does a value of the filter start the bytes at data[off]? */
static __noinline bool str_prefix(struct vigil_generic_scratch *s, __u16 id, __u32 off, __u32 len)
{
	__u32 n = len < VIGIL_LPM_DATA_MAX ? len : VIGIL_LPM_DATA_MAX;

	if (off > PBIN_OFF)
		return false;
	s->lkey.prefixlen = 8 * (sizeof(s->lkey.id) + n);
	s->lkey.id = id;
	lkey_fill(s, off);
	return bpf_map_lookup_elem(&vigil_str_prefix, &s->lkey) != NULL;
}

struct reverse_ctx {
	__u32 end; /* one past the last byte to copy, in data */
	__u32 n;
};

/* Copies data[end - 1 - i] to lkey.data[i]. */
static long reverse_step(__u32 i, void *ctx)
{
	struct reverse_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();
	__u64 from = c->end - 1 - i, to = i;

	/* Keep the bound checks on the registers the copy uses. */
	asm volatile("" : "+r"(from), "+r"(to));
	if (!s || i >= c->n || from >= sizeof(s->data) || to >= VIGIL_LPM_DATA_MAX)
		return 1;
	s->lkey.data[to] = s->data[from];
	return 0;
}

/* Postfix: does a value of the filter end the bytes at data[off]? Both are reversed. */
static __noinline bool str_postfix(struct vigil_generic_scratch *s, __u16 id, __u32 off, __u32 len)
{
	struct reverse_ctx c = { .end = off + len };

	c.n = len < VIGIL_LPM_DATA_MAX ? len : VIGIL_LPM_DATA_MAX;
	s->lkey.prefixlen = 8 * (sizeof(s->lkey.id) + c.n);
	s->lkey.id = id;
	bpf_loop(c.n, reverse_step, &c, 0);
	return bpf_map_lookup_elem(&vigil_str_postfix, &s->lkey) != NULL;
}

static __always_inline bool str_filter(struct vigil_generic_scratch *s, __u8 op, __u16 id, __u32 off, __u32 len)
{
	switch (op) {
	case VIGIL_FOP_EQ:
		return str_equal(s, id, off, len);
	case VIGIL_FOP_NEQ:
		return !str_equal(s, id, off, len);
	case VIGIL_FOP_PREFIX:
		return str_prefix(s, id, off, len);
	case VIGIL_FOP_NOT_PREFIX:
		return !str_prefix(s, id, off, len);
	case VIGIL_FOP_POSTFIX:
		return str_postfix(s, id, off, len);
	case VIGIL_FOP_NOT_POSTFIX:
		return !str_postfix(s, id, off, len);
	case VIGIL_FOP_SUBSTR:
		return vigil_substr(id, off, len, 0);
	case VIGIL_FOP_SUBSTR_ICASE:
		return vigil_substr(id, off, len, 1);
	}
	return false;
}

/* FileType / NotFileType: is the file's type (i_mode >> 12) one of value's
 * bits? A path arg without an inode (no file, a negative dentry) has no
 * type, and neither filter decides on it. */
static __always_inline bool file_type_filter(__u32 sel, __u8 op, __u64 types, __u64 mode)
{
	bool hit = (types >> ((mode >> 12) & 15)) & 1;

	if (!(mode >> 12))
		return undecided_match(sel);
	return op == VIGIL_FOP_FILE_TYPE ? hit : !hit;
}

/* SubString on arg a. A char_buf's bytes follow its u64 size. A string or
 * buffer cut short: a value found in what was read is found; one not
 * found may be in the rest. */
static __always_inline bool substr_filter(struct vigil_generic_scratch *s, __u32 sel,
					  const volatile struct vigil_arg_filter *f, __u32 a)
{
	__u32 off = s->off[a], len = s->msg.arg_len[a];
	bool hit;

	if (vigil_hook.args[a & (VIGIL_HOOK_ARGS_MAX - 1)].kind == VIGIL_ARG_CHAR_BUF) {
		off += sizeof(__u64);
		len = len > sizeof(__u64) ? len - sizeof(__u64) : 0;
	}
	hit = str_filter(s, f->op, f->id, off, len);
	if (!hit && (s->msg.arg_flags[a] & VIGIL_ARG_TRUNCATED))
		return undecided_match(sel);
	return hit;
}

/* Filter i of selector sel's matchArgs. */
static __noinline bool arg_filter(struct vigil_generic_scratch *s, __u32 sel, __u32 i)
{
	const volatile struct vigil_arg_filter *f;
	__u32 a;

	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_ARGS_MAX)
		return false;
	f = &selector_at(sel)->args[i & (VIGIL_SEL_ARGS_MAX - 1)];
	a = f->arg;

	if (a >= VIGIL_HOOK_ARGS_MAX)
		return false;
	/* The type is read from the inode, even when the path could not be. */
	if (f->op == VIGIL_FOP_FILE_TYPE || f->op == VIGIL_FOP_NOT_FILE_TYPE)
		return file_type_filter(sel, f->op, f->value, s->val[a]);
	if (undecidable(s->msg.arg_flags[a], f->op))
		return undecided_match(sel);
	if (is_substr_op(f->op))
		return substr_filter(s, sel, f, a);
	if (f->op == VIGIL_FOP_CAPS_GAINED)
		return caps_gained(s, s->off[a], s->msg.arg_len[a], f->value);
	if (vigil_hook.args[a].kind == VIGIL_ARG_INT)
		return int_filter(s, f, s->val[a], vigil_hook.args[a].flags & VIGIL_SRC_SIGNED);
	if (is_net_kind(vigil_hook.args[a].kind))
		return net_filter(s, f->op, f->id, s->off[a], s->msg.arg_len[a]);
	return str_filter(s, f->op, f->id, s->off[a], s->msg.arg_len[a]);
}

#define ANCESTORS_MAX 16

/* followForks: a process whose ancestor is in the set is in it too. With
 * ns, the ancestors' pids in their own pid namespace, up to the
 * namespace's init (pid 1): its parent is outside the namespace. */
static __always_inline bool ancestor_in(struct vigil_generic_scratch *s, __u16 id, __u32 tgid, bool ns)
{
	struct vigil_process_entry *e = vigil_process_lookup(tgid);

#pragma nounroll
	for (int i = 0; i < ANCESTORS_MAX; i++) {
		__u32 p;

		if (!e || (ns && e->nspid <= 1))
			return false;
		p = e->parent.pid;
		if (!p || p == e->proc.pid)
			return false;
		if (!ns && int_in(s, id, p))
			return true;
		e = vigil_process_lookup(p);
		if (ns && e && int_in(s, id, e->nspid))
			return true;
	}
	return false;
}

/* Filter i of selector sel's matchPIDs. */
static __noinline bool pid_filter(struct vigil_generic_scratch *s, __u32 sel, __u32 i, __u32 tgid)
{
	const volatile struct vigil_pid_filter *f;
	__u32 pid = tgid;
	bool hit, ns;

	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_PIDS_MAX)
		return false;
	f = &selector_at(sel)->pids[i & (VIGIL_SEL_PIDS_MAX - 1)];

	ns = f->flags & VIGIL_PID_NAMESPACE;
	if (ns)
		pid = vigil_read_nspid((struct task_struct *)bpf_get_current_task());
	hit = int_in(s, f->id, pid);
	if (!hit && (f->flags & VIGIL_PID_FOLLOW_FORKS))
		hit = ancestor_in(s, f->id, tgid, ns);
	return f->op == VIGIL_FOP_NEQ ? !hit : hit;
}

/* Filter i of selector sel's matchBinaries (or matchParentBinaries). The
 * binary is at data[BIN_OFF], the parent's at data[PBIN_OFF]: their first
 * VIGIL_BINARY_MAX bytes; bin_len and pbin_len are their full lengths. */
static __noinline bool bin_filter(struct vigil_generic_scratch *s, __u32 sel, __u32 i, __u32 tgid)
{
	const volatile struct vigil_bin_filter *f;
	__u32 len, kept, off;
	__u8 op, flags;
	bool hit;

	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_BINS_MAX)
		return false;
	f = &selector_at(sel)->bins[i & (VIGIL_SEL_BINS_MAX - 1)];
	op = f->op;
	flags = f->flags;
	len = flags & VIGIL_BIN_PARENT ? s->pbin_len : s->bin_len;
	off = flags & VIGIL_BIN_PARENT ? PBIN_OFF : BIN_OFF;
	kept = len < VIGIL_BINARY_MAX ? len : VIGIL_BINARY_MAX;

	/* A path longer than what is kept has an unknown end. */
	if ((op == VIGIL_FOP_POSTFIX || op == VIGIL_FOP_NOT_POSTFIX) && len > VIGIL_BINARY_MAX)
		return op == VIGIL_FOP_NOT_POSTFIX;
	if (op == VIGIL_FOP_EQ || op == VIGIL_FOP_NEQ)
		kept = len;
	hit = str_filter(s, op, f->id, off, kept);
	if (!hit && (flags & VIGIL_BIN_FOLLOW)) {
		struct vigil_process_entry *e = vigil_process_lookup(tgid);

		hit = e && (e->follow & (1ull << (flags & VIGIL_BIN_FOLLOW_BIT)));
	}
	return hit;
}

/* Which binaries the selectors look at: bit 0 the process's, bit 1 its parent's. */
static __always_inline __u32 needs_binaries(void)
{
	__u32 needs = 0;

#pragma unroll
	for (int i = 0; i < VIGIL_SELECTORS_MAX; i++) {
		if (i >= vigil_hook.nselectors)
			break;
#pragma unroll
		for (int j = 0; j < VIGIL_SEL_BINS_MAX; j++)
			if (j < vigil_hook.selectors[i].nbins)
				needs |= vigil_hook.selectors[i].bins[j].flags & VIGIL_BIN_PARENT ? 2 : 1;
	}
	return needs;
}

/* The binary of tgid into data[off], its full length into *len. */
static __always_inline void load_binary(struct vigil_generic_scratch *s, __u32 tgid, __u32 off, __u32 *len)
{
	struct vigil_binary *b = bpf_map_lookup_elem(&vigil_binaries, &tgid);

	*len = 0;
	if (!b || off > PBIN_OFF)
		return;
	*len = b->len;
	bpf_probe_read_kernel(&s->data[off], VIGIL_BINARY_MAX, b->path);
}

static __always_inline void load_binaries(struct vigil_generic_scratch *s, __u32 tgid)
{
	__u32 needs = needs_binaries();
	struct vigil_process_entry *e;

	if (needs & 1)
		load_binary(s, tgid, BIN_OFF, &s->bin_len);
	if (needs & 2) {
		e = vigil_process_lookup(tgid);
		s->pbin_len = 0;
		if (e)
			load_binary(s, e->parent.pid, PBIN_OFF, &s->pbin_len);
	}
}

/* Does a selector look at the task's namespaces or capabilities? */
static __always_inline bool needs_task_state(void)
{
	bool needs = false;

#pragma unroll
	for (int i = 0; i < VIGIL_SELECTORS_MAX; i++)
		if (i < vigil_hook.nselectors && (vigil_hook.selectors[i].ncaps || vigil_hook.selectors[i].ns_in ||
						  vigil_hook.selectors[i].ns_notin || vigil_hook.selectors[i].ns_changes))
			needs = true;
	return needs;
}

static __always_inline void load_task_state(struct vigil_generic_scratch *s)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, cred);

	bpf_core_read(&s->caps.permitted, 8, &cred->cap_permitted);
	bpf_core_read(&s->caps.effective, 8, &cred->cap_effective);
	bpf_core_read(&s->caps.inheritable, 8, &cred->cap_inheritable);
	vigil_read_ns(task, s->ns);
	s->userns_level = vigil_read_userns_level(task);
}

/* Selector sel's matchNamespaces. */
static __noinline bool ns_filter(struct vigil_generic_scratch *s, __u32 sel)
{
	const volatile struct vigil_selector *f;
	__u16 in, notin;

	if (sel >= VIGIL_SELECTORS_MAX)
		return false;
	f = selector_at(sel);
	in = f->ns_in;
	notin = f->ns_notin;
#pragma unroll
	for (int t = 0; t < VIGIL_NS_TYPES; t++) {
		bool hit;

		if (!((in | notin) & (1u << t)))
			continue;
		hit = int_in(s, f->ns_id, ((__u64)t << 32) | s->ns[t]);
		if (in & (1u << t) ? !hit : hit)
			return false;
	}
	return true;
}

/* Selector sel's matchNamespaceChanges: does one of its types differ from exec's? */
static __noinline bool ns_changed(struct vigil_generic_scratch *s, __u32 sel, __u32 tgid)
{
	struct vigil_process_entry *e = vigil_process_lookup(tgid);
	__u16 mask;

	if (!e || sel >= VIGIL_SELECTORS_MAX)
		return false;
	mask = selector_at(sel)->ns_changes;
#pragma unroll
	for (int t = 0; t < VIGIL_NS_TYPES; t++)
		if ((mask & (1u << t)) && e->ns[t] && e->ns[t] != s->ns[t])
			return true;
	return false;
}

static __always_inline __u64 cap_set(const struct vigil_caps *c, __u8 set)
{
	return set == VIGIL_CAP_PERMITTED ? c->permitted : set == VIGIL_CAP_EFFECTIVE ? c->effective : c->inheritable;
}

/* Filter i of selector sel's matchCapabilities (or matchCapabilityChanges). */
static __noinline bool cap_filter(struct vigil_generic_scratch *s, __u32 sel, __u32 i, __u32 tgid)
{
	const volatile struct vigil_cap_filter *f;
	__u64 cur, mask, then;
	__u8 op, flags, set;
	bool hit;

	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_CAPS_MAX)
		return false;
	f = &selector_at(sel)->caps[i & (VIGIL_SEL_CAPS_MAX - 1)];
	op = f->op;
	flags = f->flags;
	set = f->set;
	mask = f->mask;
	if ((flags & VIGIL_CAP_NAMESPACE) && s->userns_level == 0)
		return false;
	cur = cap_set(&s->caps, set);
	if (flags & VIGIL_CAP_CHANGES) {
		struct vigil_process_entry *e = vigil_process_lookup(tgid);

		if (!e)
			return false;
		then = cap_set(&e->caps, set);
		if ((then & mask) != (cur & mask))
			return op == VIGIL_FOP_EQ;
		return then != cur && op == VIGIL_FOP_NEQ;
	}
	hit = (cur & mask) != 0;
	return op == VIGIL_FOP_NEQ ? !hit : hit;
}

static __always_inline bool process_ok(struct vigil_generic_scratch *s, __u32 sel, __u32 tgid)
{
#pragma unroll
	for (int i = 0; i < VIGIL_SEL_PIDS_MAX; i++)
		if (i < selector_at(sel)->npids && !pid_filter(s, sel, i, tgid))
			return false;
#pragma unroll
	for (int i = 0; i < VIGIL_SEL_BINS_MAX; i++)
		if (i < selector_at(sel)->nbins && !bin_filter(s, sel, i, tgid))
			return false;
#pragma unroll
	for (int i = 0; i < VIGIL_SEL_CAPS_MAX; i++)
		if (i < selector_at(sel)->ncaps && !cap_filter(s, sel, i, tgid))
			return false;
	if ((selector_at(sel)->ns_in || selector_at(sel)->ns_notin) && !ns_filter(s, sel))
		return false;
	if (selector_at(sel)->ns_changes && !ns_changed(s, sel, tgid))
		return false;
	return true;
}

static __always_inline bool args_ok(struct vigil_generic_scratch *s, __u32 sel)
{
#pragma unroll
	for (int i = 0; i < VIGIL_SEL_ARGS_MAX; i++) {
		if (i >= selector_at(sel)->nargs)
			break;
		if (!arg_filter(s, sel, i))
			return false;
	}
	return true;
}

#endif
