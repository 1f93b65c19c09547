// SPDX-License-Identifier: GPL-2.0
/* Generic hook on a tracepoint, attached at run time to the hook's
 * subsystem/event (policy tracepoints, and syscall kprobes falling back to
 * syscalls/sys_enter_<name> on kernels without kprobes).
 *
 *   vigil_in_scope():        a scoped hook on a task outside its scope: done
 *   fetch_tracepoint_args(): syscall hook -> ctx->args[index] (trace_event_raw_sys_enter)
 *                            tracepoint   -> size bytes at the field's offset in the record
 *   vigil_generic_run(): filter, read, act (signals), emit
 *
 * A tracepoint cannot change what the kernel does: no Override here.
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp")
int vigil_generic_tp(void *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_tracepoint_args(ctx, raw);
	vigil_generic_run(raw);
	return 0;
}
