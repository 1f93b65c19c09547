/* Actions of the generic hook pipeline: signals, Override's return value,
 * rateLimit, and the record, its header filled, sent to the shared ring
 * buffer. */
#ifndef VIGIL_GENERIC_ACT_H
#define VIGIL_GENERIC_ACT_H

#include "generic_state.h"
#include "process_map.h"
#include "output.h"

/* True when selector sel posted the same args within window; else notes this post. */
static __noinline bool rate_limited(struct vigil_generic_scratch *s, __u32 sel, __u64 window, __u8 scope)
{
	__u64 now = bpf_ktime_get_ns(), *last;

	__builtin_memset(&s->rkey, 0, sizeof(s->rkey));
	s->rkey.selector = sel;
	s->rkey.who = scope == VIGIL_RATE_THREAD ? s->msg.tid : scope == VIGIL_RATE_PROCESS ? s->msg.proc.pid : 0;
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		__u64 n = s->msg.arg_len[k];
		__u32 off = s->off[k];

		if (k >= s->msg.arg_count)
			break;
		if (n > RATE_BYTES_PER_ARG)
			n = RATE_BYTES_PER_ARG;
		BOUND(n, 63);
		if (off > ARGS_DATA_MAX)
			off = ARGS_DATA_MAX;
		bpf_probe_read_kernel(&s->rkey.data[k * RATE_BYTES_PER_ARG], n, &s->data[off]);
	}
	last = bpf_map_lookup_elem(&vigil_rate, &s->rkey);
	if (last && now - *last < window)
		return true;
	bpf_map_update_elem(&vigil_rate, &s->rkey, &now, BPF_ANY);
	return false;
}

/* The record's header: who called, and which hook. */
static __always_inline void record_header(struct vigil_generic_scratch *s, __u64 pid_tgid)
{
	vigil_process_id_of(pid_tgid >> 32, &s->msg.proc);
	s->msg.tid = (__u32)pid_tgid;
	s->msg.hook_id = vigil_hook.hook_id;
	s->msg.pad0 = 0;
	s->msg.pad1 = 0;
}

static __always_inline void emit(struct vigil_generic_scratch *s, __u32 size, __u32 slot)
{
	__u64 n = size;

	/* In asm: clang may otherwise bound a copy and pass the unbounded value. */
	asm volatile("if %[n] <= %[max] goto +1\n\t%[n] = %[max]" : [n] "+r"(n) : [max] "i"(ARGS_DATA_MAX));
	vigil_emit(s, sizeof(s->msg) + n, VIGIL_OP_GENERIC, slot);
}

/* Selector i's actions; at_return: a return probe's, whose signal and
 * Override ran at entry (entry_act), so only the record is left. In a
 * hook group the record, its selector index and its counters are the
 * selector's member's. */
static __noinline long act(struct vigil_generic_scratch *s, __u32 size, __u32 i, bool at_return)
{
	const volatile struct vigil_selector_action *a;
	const volatile struct vigil_selector *sel;
	__u32 slot = vigil_hook.slot;
	long ret;

	if (i >= VIGIL_SELECTORS_MAX)
		return 0;
	sel = selector_at(i);
	a = &sel->act;
	ret = a->override ? a->error : 0;

	if (a->signal && !at_return)
		bpf_send_signal(a->signal);
	s->msg.action = a->action;
	s->msg.selector = i + 1;
	if (vigil_hook.nmembers) {
		__u64 m = sel->member;

		BOUND(m, 63);
		s->msg.hook_id = vigil_hook.members[m].hook_id;
		s->msg.selector = sel->local + 1;
		slot = vigil_hook.members[m].slot;
	}
	s->msg.ret = ret;
	if (a->post && !(a->rate_ns && rate_limited(s, i, a->rate_ns, a->rate_scope)))
		emit(s, size, slot);
	return ret;
}

/* A return probe's actions at entry, as Tetragon runs matchActions: the
 * signal and Override of the first selector in pass (those whose filters
 * passed at entry). Returns Override's error, or 0. */
static __always_inline long entry_act(vigil_selmask_t pass)
{
	const volatile struct vigil_selector_action *a;

	if (!vigil_hook.nselectors || !pass)
		return 0;
#pragma unroll
	for (int i = 0; i < VIGIL_SELECTORS_MAX; i++) {
		if (i >= vigil_hook.nselectors)
			break;
		if (!(pass & SEL_BIT(i)))
			continue;
		a = &selector_at(i)->act;
		if (a->signal)
			bpf_send_signal(a->signal);
		return a->override ? a->error : 0;
	}
	return 0;
}

#endif
