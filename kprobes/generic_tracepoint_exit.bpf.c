// SPDX-License-Identifier: GPL-2.0
/* Generic return probe on a syscall, for `syscall: true` hooks on kernels
 * with neither kprobes nor fexit: syscalls/sys_enter_<name> at entry and
 * syscalls/sys_exit_<name> at return, sharing a per-thread map.
 *
 *   entry  (sys_enter): in scope? fetch_sys_enter_args(): ctx->args[index]; vigil_ret_entry(): filter, read, act, save
 *   return (sys_exit):  in scope? ctx->ret; vigil_ret_exit(): rebuild, filter, emit
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic_ret.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp")
int vigil_generic_tp_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_sys_enter_args(ctx, raw);
	vigil_ret_entry(raw);
	return 0;
}

SEC("tp")
int vigil_generic_tp_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 ret = 0;

	if (!vigil_in_scope())
		return 0;
	bpf_core_read(&ret, sizeof(ret), &ctx->ret);
	vigil_ret_exit(ret);
	return 0;
}
