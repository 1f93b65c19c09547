// SPDX-License-Identifier: GPL-2.0
/* Generic hook on a tracepoint, attached at run time to the hook's
 * subsystem/event (policy tracepoints, and syscall kprobes falling back to
 * syscalls/sys_enter_<name> on kernels without kprobes).
 *
 *   fetch raw args: syscall hook  -> ctx->args[index] (trace_event_raw_sys_enter)
 *                   tracepoint    -> size bytes at the field's offset in the record
 *   vigil_generic_run(): filter, read, act (signals), emit
 *
 * A tracepoint cannot change what the kernel does: no Override here.
 */
#include "api.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

/* A field of the tracepoint's record, by its offset in rodata. */
static __always_inline __u64 field(void *ctx, const volatile struct vigil_arg_config *a)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, a->size & 0xf, ctx + a->offset);
	return v;
}

SEC("tp")
int vigil_generic_tp(void *ctx)
{
	struct trace_event_raw_sys_enter *e = ctx;
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};
	__u64 sys[6] = {};
	__u32 used = 0;

	/* Syscall args are plain loads from the record, at constant offsets,
	 * only of the args the hook reads: the kernel refuses to attach a
	 * program whose loads reach past the event's record. */
	if (vigil_hook.syscall) {
#pragma unroll
		for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++)
			if (k < vigil_hook.nargs)
				used |= 1u << (vigil_hook.args[k].index & 7);
		if (used & 1 << 0) sys[0] = e->args[0];
		if (used & 1 << 1) sys[1] = e->args[1];
		if (used & 1 << 2) sys[2] = e->args[2];
		if (used & 1 << 3) sys[3] = e->args[3];
		if (used & 1 << 4) sys[4] = e->args[4];
		if (used & 1 << 5) sys[5] = e->args[5];
	}
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		__u32 i = vigil_hook.args[k].index;

		if (k >= vigil_hook.nargs)
			break;
		raw[k] = !vigil_hook.syscall ? field(ctx, &vigil_hook.args[k]) : i < 6 ? sys[i] : 0;
	}
	vigil_generic_run(raw);
	return 0;
}
