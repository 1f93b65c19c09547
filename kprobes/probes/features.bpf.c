// SPDX-License-Identifier: GPL-2.0
/* Kernel feature probe: one tiny program per feature, loaded (and attached)
 * one at a time by agent/probe/features.ts. A program that loads proves the
 * program type and its helpers; attaching proves the hook exists.
 * None of them changes what the kernel does: hooks return "allow", and the
 * helpers that act (signals, return overrides) sit behind target_tgid,
 * which is never set. It lives in .bss, not .rodata, so the verifier cannot
 * prune the call as dead code and still has to accept the helper. */
#include "api.h"

char LICENSE[] SEC("license") = "GPL";

__u32 target_tgid;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} feature_events SEC(".maps");

static __always_inline bool is_target(void)
{
	return target_tgid && (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

/* btf: a CO-RE relocation against the kernel's task_struct. */
SEC("tp/syscalls/sys_enter_getpid")
int feature_btf(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int ppid = BPF_CORE_READ(task, real_parent, tgid);

	return ppid < 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int feature_tracepoints(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(feature_tp_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return 0;
}

SEC("raw_tp/sched_process_exec")
int feature_raw_tracepoints(void *ctx)
{
	return 0;
}

SEC("kprobe/security_file_open")
int BPF_KPROBE(feature_kprobes)
{
	return 0;
}

SEC("kretprobe/security_file_open")
int BPF_KRETPROBE(feature_kretprobes, int ret)
{
	return 0;
}

SEC("kprobe.multi/security_file_open")
int BPF_KPROBE(feature_kprobe_multi)
{
	return 0;
}

SEC("fentry/security_file_open")
int BPF_PROG(feature_fentry, struct file *file)
{
	return 0;
}

SEC("fexit/security_file_open")
int BPF_PROG(feature_fexit, struct file *file, int ret)
{
	return 0;
}

SEC("fmod_ret/security_file_open")
int BPF_PROG(feature_fmod_ret, struct file *file)
{
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(feature_bpf_lsm, struct file *file)
{
	return 0;
}

/* Syscall entry points are on the error injection list. */
SEC("kprobe/__x64_sys_getpid")
int BPF_KPROBE(feature_bpf_override_return)
{
	if (is_target())
		bpf_override_return(ctx, -1);
	return 0;
}

SEC("cgroup/connect4")
int feature_cgroup_hooks(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("tp/syscalls/sys_enter_getpid")
int feature_bpf_send_signal(void *ctx)
{
	if (is_target())
		bpf_send_signal(9);
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int feature_ring_buffer(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (is_target())
		bpf_ringbuf_output(&feature_events, &pid, sizeof(pid), 0);
	return 0;
}

static long loop_step(__u32 index, void *ctx)
{
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int feature_bpf_loop(void *ctx)
{
	bpf_loop(4, loop_step, NULL, 0);
	return 0;
}

/* cgroup_scope: the current task's cgroup v2 ancestors, as policies
 * limited to pods look them up (kprobes/include/scope.h). */
SEC("tp/syscalls/sys_enter_getpid")
int feature_cgroup_scope(void *ctx)
{
	return bpf_get_current_ancestor_cgroup_id(1) == bpf_get_current_cgroup_id();
}

/* Attached from user space to a libc function. */
SEC("uprobe")
int BPF_KPROBE(feature_uprobes)
{
	return 0;
}
