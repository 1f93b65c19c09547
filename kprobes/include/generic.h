/* The generic hook pipeline, shared by the thin program of each hook type
 * (generic_tracepoint.bpf.c, generic_syscall.bpf.c, generic_kprobe.bpf.c,
 * generic_fentry.bpf.c, generic_lsm.bpf.c). Each first asks
 * vigil_in_scope() (a hook of a policy limited to pods acts only on tasks
 * in its scope: scope.h), then fetches its raw argument values
 * (generic_fetch.h) and calls vigil_generic_run(), which returns what the
 * hook returns:
 *
 *   each selector's process filters (matchPIDs, matchBinaries,
 *     matchParentBinaries, matchCapabilities, matchNamespaces and
 *     their changes since exec)                                 none pass: done
 *   read the args per config into the record: integers, strings,
 *     fd / file / path / linux_binprm -> absolute path (path.h)
 *     sock / socket / sockaddr / skb -> a fixed tuple (generic_net.h)
 *   first selector whose matchArgs all pass                     none: done
 *   act: signal the task (Sigkill, Signal); Override: the value to return
 *   emit the record unless NoPost, or rateLimit saw the same args in its window
 *
 * No selectors: every call is posted. A hook group runs several policies'
 * hooks on one function or tracepoint in one program: the args are read
 * once, a gate (one LPM lookup of all members' Prefix values) rules out
 * most selectors, and each member's first matching selector acts, in
 * that member's record. The configuration is rodata. The
 * selectors are walked in bpf_loop callbacks, and each filter kind is a
 * static subprogram, so the verifier checks one selector's code once,
 * however many selectors a hook has. The stages: generic_state.h (config,
 * scratch), generic_values.h (selector values), generic_filter.h,
 * generic_args.h, generic_act.h.
 */
#ifndef VIGIL_GENERIC_H
#define VIGIL_GENERIC_H

#include "process_map.h"
#include "generic_state.h"
#include "generic_filter.h"
#include "generic_process.h"
#include "generic_args.h"
#include "generic_act.h"

static long args_step(__u32 i, void *ctx)
{
	struct select_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();

	if (!s || i >= VIGIL_SELECTORS_MAX)
		return 1;
	if ((c->pass & SEL_BIT(i)) && args_ok(s, i)) {
		c->matched = i;
		return 1;
	}
	return 0;
}

/* The first of those selectors whose matchArgs pass; -1: none. One
 * selector is checked inline, more through bpf_loop. */
static __always_inline __s32 args_match(struct vigil_generic_scratch *s, struct select_ctx *c)
{
	if (vigil_hook.nselectors == 1)
		return (c->pass & 1) && args_ok(s, 0) ? 0 : -1;
	bpf_loop(vigil_hook.nselectors, args_step, c, 0);
	return c->matched;
}

/* A hook group's gate: the selectors whose Prefix on the gate arg may
 * match its value, by one lookup of all members' values (vigil_gate),
 * and those without one. */
static __always_inline vigil_selmask_t gate_pass(struct vigil_generic_scratch *s)
{
	__u32 a = vigil_hook.gate_arg - 1, len, off;
	vigil_selmask_t *hit;

	if (a >= VIGIL_HOOK_ARGS_MAX)
		return ~0ull;
	if (s->msg.arg_flags[a] & VIGIL_ARG_ERROR)
		return ~0ull; /* undecided: each selector judges it */
	len = s->msg.arg_len[a];
	off = s->off[a];
	if (len > VIGIL_LPM_DATA_MAX)
		len = VIGIL_LPM_DATA_MAX;
	s->lkey.prefixlen = 8 * (sizeof(s->lkey.id) + len);
	s->lkey.id = 0;
	lkey_fill(s, off);
	hit = bpf_map_lookup_elem(&vigil_gate, &s->lkey);
	return vigil_hook.ungated | (hit ? *hit : 0);
}

/* Selector i of a hook group: the first of each member's to match acts. */
static long group_step(__u32 i, void *ctx)
{
	struct vigil_generic_scratch *s = generic_scratch();
	__u64 m;
	long r;

	if (!s || i >= VIGIL_SELECTORS_MAX)
		return 1;
	if (!(s->group_pass & SEL_BIT(i)))
		return 0;
	m = selector_at(i)->member;
	BOUND(m, 63);
	if ((s->group_done & (1ull << m)) || !args_ok(s, i))
		return 0;
	s->group_done |= 1ull << m;
	r = act(s, s->group_size, i, false);
	if (r && !s->group_ret)
		s->group_ret = r;
	return 0;
}

/* A hook group's end: gate, then each member's first matching selector. */
static __always_inline long group_finish(struct vigil_generic_scratch *s, struct select_ctx *c, __u64 pid_tgid, __u32 size)
{
	vigil_selmask_t pass = c->pass;

	if (vigil_hook.gate_arg)
		pass &= gate_pass(s);
	if (!pass)
		return 0;
	record_header(s, pid_tgid);
	s->group_pass = pass;
	s->group_done = 0;
	s->group_ret = 0;
	s->group_size = size;
	bpf_loop(vigil_hook.nselectors, group_step, NULL, 0);
	return s->group_ret;
}

/* The end of the pipeline, once the args are in the record (size bytes of
 * data): the first selector whose matchArgs pass (none: done), the
 * record's header, then act; no selectors: post. Returns what the hook
 * returns (0, or Override's error). at_return: a return probe's end, whose
 * signals ran at entry. */
static __always_inline long vigil_generic_finish(struct vigil_generic_scratch *s, struct select_ctx *c, __u64 pid_tgid,
						 __u32 size, bool at_return)
{
	/* A group of one ends as a hook alone, in its member's record. */
	if (vigil_hook.nmembers > 1 && !at_return)
		return group_finish(s, c, pid_tgid, size);
	if (vigil_hook.nselectors) {
		c->matched = args_match(s, c);
		if (c->matched < 0)
			return 0;
	}
	record_header(s, pid_tgid);
	if (!vigil_hook.nselectors) {
		s->msg.action = VIGIL_ACTION_POST;
		s->msg.selector = 0;
		s->msg.ret = 0;
		emit(s, size, vigil_hook.slot);
		return 0;
	}
	return act(s, size, c->matched, at_return);
}

/* raw[k]: the raw value of vigil_hook.args[k]. Returns what the hook returns. */
static __always_inline long vigil_generic_run(__u64 *raw)
{
	struct vigil_generic_scratch *s = generic_scratch();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct select_ctx c = { .tgid = pid_tgid >> 32, .matched = -1 };
	__u32 size;

	if (!s)
		return 0;
	if (vigil_hook.nselectors) {
		c.pass = process_pass(s, &c);
		if (!c.pass)
			return 0;
	}
	size = read_args(s, raw, false);
	count_undecided(s);
	return vigil_generic_finish(s, &c, pid_tgid, size, false);
}

#endif
