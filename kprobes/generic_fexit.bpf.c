// SPDX-License-Identifier: GPL-2.0
/* Generic return probe on a kernel function through BPF trampolines, where
 * kprobes are missing: fentry at entry, fexit at return, sharing a
 * per-thread map. Both targets are set before load.
 *
 *   entry  (fentry): in scope? fetch_trampoline_args(); vigil_ret_entry(): filter, read, act, save
 *          (fmod_ret, for a hook with Override: the same, and a non-zero
 *           result, Override's error, skips the function and is its return value)
 *   return (fexit):  in scope? bpf_get_func_ret(); vigil_ret_exit(): rebuild, filter, emit
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic_ret.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline long entry(__u64 *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_trampoline_args(ctx, raw);
	return vigil_ret_entry(raw);
}

SEC("fentry")
int vigil_generic_fexit_entry(__u64 *ctx)
{
	entry(ctx);
	return 0;
}

SEC("fmod_ret")
int vigil_generic_fexit_fmod_ret(__u64 *ctx)
{
	return entry(ctx);
}

SEC("fexit")
int vigil_generic_fexit(__u64 *ctx)
{
	__u64 ret = 0;

	if (!vigil_in_scope())
		return 0;
	bpf_get_func_ret(ctx, &ret);
	vigil_ret_exit(ret);
	return 0;
}
