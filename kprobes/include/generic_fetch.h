/* Raw argument fetch, the first stage of the generic hook pipeline: each
 * thin program fills raw[k] with the raw value of vigil_hook.args[k], from
 * wherever its context keeps it, then hands raw to generic.h or
 * generic_ret.h.
 *
 *   fetch_kprobe_args      kprobe registers (PT_REGS_PARMn); syscall: the
 *                          wrapper's inner pt_regs (PT_REGS_PARMn_CORE_SYSCALL)
 *   fetch_trampoline_args  bpf_get_func_arg (fentry, fmod_ret, fexit's entry,
 *                          LSM); syscall: the wrapper's pt_regs, arg 0
 *   fetch_syscall_regs     raw_syscalls/sys_enter's pt_regs (tp_btf)
 *   fetch_tracepoint_args  a tracepoint record: syscalls/sys_enter_<name>'s
 *                          args[], else each field at its offset (a
 *                          __data_loc field: where its bytes are)
 *
 * Syscall args from a record or pt_regs are plain loads at constant
 * offsets, only of the args the hook reads.
 */
#ifndef VIGIL_GENERIC_FETCH_H
#define VIGIL_GENERIC_FETCH_H

#include "generic_state.h"

/* Argument i of a kernel function, from a kprobe's registers. */
static __always_inline __u64 function_arg(struct pt_regs *ctx, __u8 i)
{
	switch (i) {
	case 0: return PT_REGS_PARM1_CORE(ctx);
	case 1: return PT_REGS_PARM2_CORE(ctx);
	case 2: return PT_REGS_PARM3_CORE(ctx);
	case 3: return PT_REGS_PARM4_CORE(ctx);
	case 4: return PT_REGS_PARM5_CORE(ctx);
	case 5: return BPF_CORE_READ(ctx, r9);
	}
	return 0;
}

/* Argument i of a syscall, from the pt_regs its x86-64 wrapper receives. */
static __always_inline __u64 syscall_arg(struct pt_regs *regs, __u8 i)
{
	switch (i) {
	case 0: return PT_REGS_PARM1_CORE_SYSCALL(regs);
	case 1: return PT_REGS_PARM2_CORE_SYSCALL(regs);
	case 2: return PT_REGS_PARM3_CORE_SYSCALL(regs);
	case 3: return PT_REGS_PARM4_CORE_SYSCALL(regs);
	case 4: return PT_REGS_PARM5_CORE_SYSCALL(regs);
	case 5: return BPF_CORE_READ(regs, r9);
	}
	return 0;
}

static __always_inline void fetch_kprobe_args(struct pt_regs *ctx, __u64 *raw)
{
	struct pt_regs *regs;

	if (!vigil_hook.syscall) {
#pragma unroll
		for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
			if (k >= vigil_hook.nargs)
				break;
			raw[k] = function_arg(ctx, vigil_hook.args[k].index);
		}
		return;
	}
	regs = (struct pt_regs *)PT_REGS_PARM1_CORE(ctx);
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		if (k >= vigil_hook.nargs)
			break;
		raw[k] = syscall_arg(regs, vigil_hook.args[k].index);
	}
}

static __always_inline void fetch_trampoline_args(__u64 *ctx, __u64 *raw)
{
	__u64 regs = 0;

	if (!vigil_hook.syscall) {
#pragma unroll
		for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
			if (k >= vigil_hook.nargs)
				break;
			bpf_get_func_arg(ctx, vigil_hook.args[k].index, &raw[k]);
		}
		return;
	}
	bpf_get_func_arg(ctx, 0, &regs);
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		if (k >= vigil_hook.nargs)
			break;
		raw[k] = syscall_arg((struct pt_regs *)regs, vigil_hook.args[k].index);
	}
}

/* Which of the syscall's six args the hook reads, one bit each. */
static __always_inline __u32 syscall_args_used(void)
{
	__u32 used = 0;

#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		if (k >= vigil_hook.nargs)
			break;
		used |= 1u << (vigil_hook.args[k].index & 7);
	}
	return used;
}

/* raw[k] from sys, the syscall's six args (those the hook reads). */
static __always_inline void pick_syscall_args(const __u64 *sys, __u64 *raw)
{
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		__u32 i = vigil_hook.args[k].index;

		if (k >= vigil_hook.nargs)
			break;
		raw[k] = i < 6 ? sys[i] : 0;
	}
}

/* The syscall's registers, BTF-typed: each a load at a constant offset. */
static __always_inline void fetch_syscall_regs(const struct pt_regs *regs, __u64 *raw)
{
	__u32 used = syscall_args_used();
	__u64 sys[6] = {};

	if (used & 1 << 0) sys[0] = regs->di;
	if (used & 1 << 1) sys[1] = regs->si;
	if (used & 1 << 2) sys[2] = regs->dx;
	if (used & 1 << 3) sys[3] = regs->r10;
	if (used & 1 << 4) sys[4] = regs->r8;
	if (used & 1 << 5) sys[5] = regs->r9;
	pick_syscall_args(sys, raw);
}

/* A syscalls/sys_enter_<name> record's args: the kernel refuses to attach a
 * program whose loads reach past the event's record, so only those read. */
static __always_inline void fetch_sys_enter_args(const struct trace_event_raw_sys_enter *ctx, __u64 *raw)
{
	__u32 used = syscall_args_used();
	__u64 sys[6] = {};

	/* Each at its own constant offset: clang would turn a loop into a moving ctx pointer. */
	if (used & 1 << 0) sys[0] = ctx->args[0];
	if (used & 1 << 1) sys[1] = ctx->args[1];
	if (used & 1 << 2) sys[2] = ctx->args[2];
	if (used & 1 << 3) sys[3] = ctx->args[3];
	if (used & 1 << 4) sys[4] = ctx->args[4];
	if (used & 1 << 5) sys[5] = ctx->args[5];
	pick_syscall_args(sys, raw);
}

/* A field of a tracepoint's record, by its offset in rodata. */
static __always_inline __u64 tracepoint_field(void *ctx, const volatile struct vigil_arg_config *a)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, a->size & 0xf, ctx + a->offset);
	return v;
}

static __always_inline void fetch_tracepoint_args(void *ctx, __u64 *raw)
{
	if (vigil_hook.syscall) {
		fetch_sys_enter_args(ctx, raw);
		return;
	}
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		if (k >= vigil_hook.nargs)
			break;
		raw[k] = tracepoint_field(ctx, &vigil_hook.args[k]);
		/* A __data_loc field is the offset (low 16 bits) of its bytes in the record. */
		if (vigil_hook.args[k].kind == VIGIL_ARG_DATA_LOC)
			raw[k] = (__u64)ctx + (raw[k] & 0xffff);
	}
}

#endif
