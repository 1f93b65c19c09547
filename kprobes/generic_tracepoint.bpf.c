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

static __always_inline __u64 fetch(void *ctx, const volatile struct vigil_arg_config *a)
{
	__u64 v = 0;

	if (vigil_hook.syscall) {
		struct trace_event_raw_sys_enter *e = ctx;
		__u32 i = a->index & 7;

		if (i > 5)
			return 0;
		bpf_core_read(&v, sizeof(v), &e->args[i]);
		return v;
	}
	bpf_probe_read_kernel(&v, a->size & 0xf, ctx + a->offset);
	return v;
}

SEC("tp")
int vigil_generic_tp(void *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		if (k >= vigil_hook.nargs)
			break;
		raw[k] = fetch(ctx, &vigil_hook.args[k]);
	}
	vigil_generic_run(raw);
	return 0;
}
