// SPDX-License-Identifier: GPL-2.0
/* Generic return probe on a kernel function through BPF trampolines, where
 * kprobes are missing: fentry at entry, fexit at return, sharing a
 * per-thread map. Both targets are set before load.
 *
 *   entry  (fentry): fetch raw args as generic_fentry.bpf.c does; vigil_ret_entry(): filter, read, save
 *   return (fexit):  bpf_get_func_ret(); vigil_ret_exit(): rebuild, filter, act, emit
 */
#include "api.h"
#include "generic_ret.h"

char LICENSE[] SEC("license") = "GPL";

SEC("fentry")
int vigil_generic_fexit_entry(__u64 *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};
	__u64 regs = 0;

	if (vigil_hook.syscall)
		bpf_get_func_arg(ctx, 0, &regs);
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		__u8 i = vigil_hook.args[k].index;

		if (k >= vigil_hook.nargs)
			break;
		if (vigil_hook.syscall)
			raw[k] = syscall_arg((struct pt_regs *)regs, i);
		else
			bpf_get_func_arg(ctx, i, &raw[k]);
	}
	vigil_ret_entry(raw);
	return 0;
}

SEC("fexit")
int vigil_generic_fexit(__u64 *ctx)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	vigil_ret_exit(ret);
	return 0;
}
