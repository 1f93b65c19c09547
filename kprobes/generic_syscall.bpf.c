// SPDX-License-Identifier: GPL-2.0
/* Generic hook on one syscall, reached by tail call from the sys_enter
 * dispatcher (syscall_dispatch.bpf.c) on kernels without kprobes or fentry.
 * Never attached itself.
 *
 *   vigil_in_scope():     a scoped hook on a task outside its scope: done
 *   fetch_syscall_regs(): the syscall's registers, plain loads from its pt_regs
 *   vigil_generic_run():  filter, read, act (signals), emit
 *
 * Like any tracepoint, it cannot change what the kernel does: no Override.
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int vigil_generic_syscall(__u64 *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

	if (!vigil_in_scope())
		return 0;
	fetch_syscall_regs((struct pt_regs *)ctx[0], raw);
	vigil_generic_run(raw);
	return 0;
}
