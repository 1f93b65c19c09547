// SPDX-License-Identifier: GPL-2.0
/* Generic return probe on a kernel function: a kprobe at entry and a
 * kretprobe at return, attached at run time, sharing a per-thread map.
 *
 *   entry  (kprobe):    in scope? fetch_kprobe_args(); vigil_ret_entry(): filter, read, act, save
 *   return (kretprobe): in scope? the return register; vigil_ret_exit(): rebuild, filter, emit
 *   (in scope at return too: an id removed from the scope meanwhile lifts it)
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic_ret.h"

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe")
int vigil_generic_kretprobe_entry(struct pt_regs *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_kprobe_args(ctx, raw);
	vigil_ret_entry(raw);
	return 0;
}

SEC("kretprobe")
int vigil_generic_kretprobe(struct pt_regs *ctx)
{
	if (!vigil_in_scope())
		return 0;
	vigil_ret_exit(PT_REGS_RC(ctx));
	return 0;
}
