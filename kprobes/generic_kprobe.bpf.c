// SPDX-License-Identifier: GPL-2.0
/* Generic hook on a kernel function, as a kprobe attached at run time.
 *
 *   vigil_in_scope():    a scoped hook on a task outside its scope: done
 *   fetch_kprobe_args(): function -> its registers (PT_REGS_PARMn)
 *                        syscall  -> the wrapper's inner pt_regs (PT_REGS_PARMn_CORE_SYSCALL)
 *   vigil_generic_run(): filter, read, act (signals), emit
 *
 * Override needs fmod_ret (generic_fentry.bpf.c), never bpf_override_return.
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe")
int vigil_generic_kprobe(struct pt_regs *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_kprobe_args(ctx, raw);
	vigil_generic_run(raw);
	return 0;
}
