// SPDX-License-Identifier: GPL-2.0
/* Generic hook on a kernel function, as a kprobe attached at run time.
 *
 *   fetch raw args: function -> its registers (PT_REGS_PARMn)
 *                   syscall  -> the wrapper's inner pt_regs (PT_REGS_PARMn_CORE_SYSCALL)
 *   vigil_generic_run(): filter, read, act (signals), emit
 *
 * Override needs fmod_ret (generic_fentry.bpf.c), never bpf_override_return.
 */
#include "api.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe")
int vigil_generic_kprobe(struct pt_regs *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};
	struct pt_regs *regs = NULL;

	if (vigil_hook.syscall)
		regs = (struct pt_regs *)PT_REGS_PARM1_CORE(ctx);
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		__u8 i = vigil_hook.args[k].index;

		if (k >= vigil_hook.nargs)
			break;
		raw[k] = vigil_hook.syscall ? syscall_arg(regs, i) : function_arg(ctx, i);
	}
	vigil_generic_run(raw);
	return 0;
}
