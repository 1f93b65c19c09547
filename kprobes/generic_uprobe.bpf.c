// SPDX-License-Identifier: GPL-2.0
/* Generic hook on a user-space function: a uprobe on an executable or a
 * library (a symbol, a file offset), attached at run time for every
 * process that maps the file. With return: true, a uprobe at entry and a
 * uretprobe at return share a per-thread map, as kernel return probes do.
 *
 *   vigil_in_scope():    a scoped hook on a task outside its scope: done
 *   fetch_kprobe_args(): the task's user registers (PT_REGS_PARMn); its
 *                        pointers are user memory (VIGIL_SRC_USER)
 *   vigil_generic_run(): filter, read, act (signals), emit
 *   return:              vigil_ret_entry() at entry, vigil_ret_exit() with
 *                        the return register
 *
 * No Override: a uprobe program cannot make the function return early.
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic_ret.h"

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int vigil_generic_uprobe(struct pt_regs *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_kprobe_args(ctx, raw);
	vigil_generic_run(raw);
	return 0;
}

SEC("uprobe")
int vigil_generic_uretprobe_entry(struct pt_regs *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_kprobe_args(ctx, raw);
	vigil_ret_entry(raw);
	return 0;
}

SEC("uretprobe")
int vigil_generic_uretprobe(struct pt_regs *ctx)
{
	if (!vigil_in_scope())
		return 0;
	vigil_ret_exit(PT_REGS_RC(ctx));
	return 0;
}
