// SPDX-License-Identifier: GPL-2.0
/* Generic hook on one syscall, reached by tail call from the sys_enter
 * dispatcher (syscall_dispatch.bpf.c) on kernels without kprobes or fentry.
 * Never attached itself.
 *
 *   fetch raw args: the syscall's registers, plain loads from its pt_regs
 *   vigil_generic_run(): filter, read, act (signals), emit
 *
 * Like any tracepoint, it cannot change what the kernel does: no Override.
 */
#include "api.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int vigil_generic_syscall(__u64 *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};
	__u64 sys[6] = {};
	__u32 used = 0;

	/* Only the registers the hook reads; each a load at a constant offset. */
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++)
		if (k < vigil_hook.nargs)
			used |= 1u << (vigil_hook.args[k].index & 7);
	if (used & 1 << 0) sys[0] = regs->di;
	if (used & 1 << 1) sys[1] = regs->si;
	if (used & 1 << 2) sys[2] = regs->dx;
	if (used & 1 << 3) sys[3] = regs->r10;
	if (used & 1 << 4) sys[4] = regs->r8;
	if (used & 1 << 5) sys[5] = regs->r9;
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		__u32 i = vigil_hook.args[k].index;

		if (k >= vigil_hook.nargs)
			break;
		raw[k] = i < 6 ? sys[i] : 0;
	}
	vigil_generic_run(raw);
	return 0;
}
