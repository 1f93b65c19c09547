// SPDX-License-Identifier: GPL-2.0
/* Syscall hooks on kernels without kprobes or fentry, one program for all:
 * on raw_syscalls/sys_enter it tail-calls the hook program registered for
 * the syscall's number (generic_syscall.bpf.c). Syscalls without a hook
 * cost one failed tail call; the perf syscall tracepoints
 * (syscalls/sys_enter_*) cost far more per hooked call.
 *
 * The agent loads one instance per level: a syscall's first hook goes in
 * level 0's array, a second hook of the same syscall in level 1's, and so
 * on, each level attached while it holds a hook.
 *
 * 32-bit (compat) syscalls number differently and are left alone, as the
 * syscalls/sys_enter_* tracepoints leave them.
 */
#include "api.h"
#include "generic_config.h"

char LICENSE[] SEC("license") = "GPL";

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, VIGIL_SYSCALLS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} vigil_syscall_hooks SEC(".maps");

SEC("tp_btf/sys_enter")
int vigil_sys_enter(__u64 *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 nr = ctx[1];

	if (nr >= VIGIL_SYSCALLS_MAX || (task->thread_info.status & TS_COMPAT))
		return 0;
	bpf_tail_call(ctx, &vigil_syscall_hooks, nr);
	return 0;
}
