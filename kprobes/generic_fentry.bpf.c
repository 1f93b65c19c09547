// SPDX-License-Identifier: GPL-2.0
/* Generic hook on a kernel function through a BPF trampoline: fentry
 * where kprobes are missing, fmod_ret where the hook overrides the return
 * value. The target is set before load (bpf_program__set_attach_target).
 *
 *   vigil_in_scope():        a scoped hook on a task outside its scope: done (0)
 *   fetch_trampoline_args(): function -> bpf_get_func_arg(index)
 *                            syscall  -> the wrapper's pt_regs (arg 0), then PT_REGS_PARMn_CORE_SYSCALL
 *   vigil_generic_run(): filter, read, act, emit
 *   fmod_ret: a non-zero return (Override's argError) skips the function and is its result
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline long run(__u64 *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_trampoline_args(ctx, raw);
	return vigil_generic_run(raw);
}

SEC("fentry")
int vigil_generic_fentry(__u64 *ctx)
{
	run(ctx);
	return 0;
}

SEC("fmod_ret")
int vigil_generic_fmod_ret(__u64 *ctx)
{
	return run(ctx);
}
