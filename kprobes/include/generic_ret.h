/* Return probes of the generic hook pipeline (kprobes with return: true).
 * Two programs share one per-thread map: the entry program reads what it
 * can at entry (a pointer's memory may change by return) and saves it;
 * the return program adds what only the return knows, then ends as
 * vigil_generic_run() does, in vigil_generic_finish().
 *
 *   entry:  process filters (matchPIDs, matchBinaries)           none pass: done
 *           read the args, except returnCopy ones (raw values kept)
 *           matchArgs on args read at entry                       no selector left: done
 *           the first passing selector's matchActions, as Tetragon runs
 *             them: its signal, and Override's error as the entry
 *             program's result (fmod_ret skips the function with it)
 *           save the record, and which selectors still pass, under pid_tgid
 *   return: take the saved record (none: the entry was not seen or filtered)
 *           rebuild the args in order, reading returnCopy ones now
 *           the return value as one more arg (args[nargs] in the config)
 *           first selector, of those saved, whose matchArgs and
 *             matchReturnArgs (filters on args[nargs]) all pass   none: done
 *           emit one record (unless NoPost or rateLimit): the args, then
 *             the return value
 */
#ifndef VIGIL_GENERIC_RET_H
#define VIGIL_GENERIC_RET_H

#include "generic.h"

#define RET_SAVED_MAX 8192 /* calls in flight at once */

struct vigil_ret_saved {
	vigil_selmask_t pass; /* selectors still passing after entry; bit 0 when the hook has none */
	__u32 size;
	__u32 pad0;
	__u64 raw[VIGIL_HOOK_ARGS_MAX];
	__u64 val[VIGIL_HOOK_ARGS_MAX];
	__u32 off[VIGIL_HOOK_ARGS_MAX];
	__u16 len[VIGIL_HOOK_ARGS_MAX];
	__u8 flags[VIGIL_HOOK_ARGS_MAX];
	char data[ARGS_DATA_MAX + VIGIL_ARG_BYTES_MAX]; /* the tail: room for bounded chunk copies */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RET_SAVED_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct vigil_ret_saved);
} vigil_ret_saved SEC(".maps");

/* Filter i of selector sel at entry: those on args read at return pass, for now. */
static __noinline bool entry_arg_filter(struct vigil_generic_scratch *s, __u32 sel, __u32 i)
{
	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_ARGS_MAX)
		return false;
	if (read_at_return(selector_at(sel)->args[i & (VIGIL_SEL_ARGS_MAX - 1)].arg))
		return true;
	return arg_filter(s, sel, i);
}

static long entry_step(__u32 i, void *ctx)
{
	struct select_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();

	if (!s || i >= VIGIL_SELECTORS_MAX)
		return 1;
	if (!(c->pass & SEL_BIT(i)))
		return 0;
#pragma unroll
	for (int j = 0; j < VIGIL_SEL_ARGS_MAX; j++) {
		if (j >= selector_at(i)->nargs)
			break;
		if (!entry_arg_filter(s, i, j)) {
			c->pass &= ~SEL_BIT(i);
			break;
		}
	}
	return 0;
}

/* The entry program's stage: raw[k] is the raw value of vigil_hook.args[k].
 * Returns Override's error when a selector with Override passed, else 0. */
static __always_inline long vigil_ret_entry(__u64 *raw)
{
	struct vigil_generic_scratch *s = generic_scratch();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct select_ctx c = { .tgid = pid_tgid >> 32, .matched = -1 };
	struct vigil_ret_saved *e;
	__u32 pos;
	long ret;
	__u64 n;

	if (!s)
		return 0;
	c.pass = vigil_hook.nselectors ? process_pass(s, &c) : 1;
	if (!c.pass)
		return 0;
	pos = read_args(s, raw, true);
	count_undecided(s);
	if (vigil_hook.nselectors) {
		bpf_loop(vigil_hook.nselectors, entry_step, &c, 0);
		if (!c.pass)
			return 0;
	}
	ret = entry_act(c.pass);

	/* The value starts as a copy of the scratch (large enough), then gets its fields. */
	if (bpf_map_update_elem(&vigil_ret_saved, &pid_tgid, s, BPF_ANY))
		return ret;
	e = bpf_map_lookup_elem(&vigil_ret_saved, &pid_tgid);
	if (!e)
		return ret;
	e->pass = c.pass;
	e->size = pos;
	__builtin_memcpy(e->raw, s->raw, sizeof(e->raw));
	__builtin_memcpy(e->val, s->val, sizeof(e->val));
	__builtin_memcpy(e->off, s->off, sizeof(e->off));
	__builtin_memcpy(e->len, s->msg.arg_len, sizeof(e->len));
	__builtin_memcpy(e->flags, s->msg.arg_flags, sizeof(e->flags));
	n = pos;
	CLAMP(n, ARGS_DATA_MAX);
	bpf_probe_read_kernel(e->data, n, s->data);
	return ret;
}

/* Copies len saved bytes at e->data[from] to data[pos], a chunk at a time. */
static __always_inline void copy_saved(struct vigil_generic_scratch *s, struct vigil_ret_saved *e, __u32 from, __u32 pos,
				       __u32 len)
{
	__u32 done = 0;

	for (int i = 0; i < BUF_CHUNKS; i++) {
		__u64 n;

		if (done >= len)
			break;
		n = len - done;
		CLAMP(n, VIGIL_ARG_BYTES_MAX);
		bpf_probe_read_kernel(&s->data[(pos + done) & ARGS_DATA_MASK], n, &e->data[(from + done) & ARGS_DATA_MASK]);
		done += n;
	}
}

/* Rebuilds arg k at data[pos] from what entry saved, or reads it now; returns its length. */
static __noinline __u32 rebuild_arg(struct vigil_generic_scratch *s, struct vigil_ret_saved *e, __u32 k, __u32 pos)
{
	__u32 n;

	if (k >= VIGIL_HOOK_ARGS_MAX || pos >= ARGS_DATA_MAX)
		return 0;
	if (read_at_return(k)) {
		s->msg.arg_flags[k] = VIGIL_ARG_TRUNCATED;
		return read_arg(s, k, e->raw[k], pos);
	}
	n = e->len[k];
	if (n > ARGS_DATA_MAX - pos) {
		n = ARGS_DATA_MAX - pos;
		s->msg.arg_flags[k] = e->flags[k] | VIGIL_ARG_TRUNCATED;
	} else {
		s->msg.arg_flags[k] = e->flags[k];
	}
	s->val[k] = e->val[k];
	copy_saved(s, e, e->off[k], pos, n);
	return n;
}

/* The return program's stage: ret is the function's return value. */
static __always_inline void vigil_ret_exit(__u64 ret)
{
	struct vigil_generic_scratch *s = generic_scratch();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct select_ctx c = { .tgid = pid_tgid >> 32, .matched = -1 };
	struct vigil_ret_saved *e = bpf_map_lookup_elem(&vigil_ret_saved, &pid_tgid);
	__u32 pos = 0, r = vigil_hook.nargs;

	if (!s || !e)
		return;
	c.pass = e->pass;
	__builtin_memcpy(s->raw, e->raw, sizeof(s->raw));
	s->raw[r & (VIGIL_HOOK_ARGS_MAX - 1)] = ret;
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		if (k >= r)
			break;
		pos = arg_placed(s, k, pos, rebuild_arg(s, e, k, pos));
	}
	if (r < VIGIL_HOOK_ARGS_MAX)
		pos = put_arg(s, r, ret, pos, false);
	bpf_map_delete_elem(&vigil_ret_saved, &pid_tgid);
	s->msg.arg_count = r + 1;
	vigil_generic_finish(s, &c, pid_tgid, pos, true);
}

#endif
