/* Reads a task's credentials, capabilities and ids. */
#ifndef VIGIL_TASK_H
#define VIGIL_TASK_H

#include "events.h"

static __always_inline void vigil_read_creds(struct task_struct *task, struct vigil_creds *c,
					     struct vigil_caps *caps)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);

	c->uid = BPF_CORE_READ(cred, uid.val);
	c->gid = BPF_CORE_READ(cred, gid.val);
	c->suid = BPF_CORE_READ(cred, suid.val);
	c->sgid = BPF_CORE_READ(cred, sgid.val);
	c->euid = BPF_CORE_READ(cred, euid.val);
	c->egid = BPF_CORE_READ(cred, egid.val);
	c->fsuid = BPF_CORE_READ(cred, fsuid.val);
	c->fsgid = BPF_CORE_READ(cred, fsgid.val);
	/* kernel_cap_t is u32[2] before 6.3 and u64 since: both are 8 bytes. */
	bpf_core_read(&caps->permitted, 8, &cred->cap_permitted);
	bpf_core_read(&caps->effective, 8, &cred->cap_effective);
	bpf_core_read(&caps->inheritable, 8, &cred->cap_inheritable);
}

static __always_inline __u32 vigil_read_auid(struct task_struct *task)
{
	if (bpf_core_field_exists(task->loginuid))
		return BPF_CORE_READ(task, loginuid.val);
	return (__u32)-1;
}

/* The task's pid in its own pid namespace. */
static __always_inline __u32 vigil_read_nspid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	bpf_core_read(&up, sizeof(up), &pid->numbers[0]);
	if (level > 0)
		bpf_probe_read_kernel(&up, sizeof(up),
				      (void *)&pid->numbers[0] + (level & 31) * bpf_core_type_size(struct upid));
	return up.nr;
}

/* The inode numbers of the task's namespaces, by enum vigil_ns_type (0:
 * none of that type on this kernel). */
static __always_inline void vigil_read_ns(struct task_struct *task, __u32 *inum)
{
	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	inum[VIGIL_NS_UTS] = BPF_CORE_READ(nsp, uts_ns, ns.inum);
	inum[VIGIL_NS_IPC] = BPF_CORE_READ(nsp, ipc_ns, ns.inum);
	inum[VIGIL_NS_MNT] = BPF_CORE_READ(nsp, mnt_ns, ns.inum);
	inum[VIGIL_NS_PID_FOR_CHILDREN] = BPF_CORE_READ(nsp, pid_ns_for_children, ns.inum);
	inum[VIGIL_NS_NET] = BPF_CORE_READ(nsp, net_ns, ns.inum);
	inum[VIGIL_NS_TIME] = 0;
	inum[VIGIL_NS_TIME_FOR_CHILDREN] = 0;
	if (bpf_core_field_exists(nsp->time_ns)) {
		inum[VIGIL_NS_TIME] = BPF_CORE_READ(nsp, time_ns, ns.inum);
		inum[VIGIL_NS_TIME_FOR_CHILDREN] = BPF_CORE_READ(nsp, time_ns_for_children, ns.inum);
	}
	inum[VIGIL_NS_CGROUP] = BPF_CORE_READ(nsp, cgroup_ns, ns.inum);
	inum[VIGIL_NS_USER] = BPF_CORE_READ(task, cred, user_ns, ns.inum);
	/* task_active_pid_ns(): the namespace of the task's pid at its level. */
	bpf_probe_read_kernel(&up, sizeof(up), (void *)&pid->numbers[0] + (level & 31) * bpf_core_type_size(struct upid));
	inum[VIGIL_NS_PID] = BPF_CORE_READ(up.ns, ns.inum);
}

/* The level of the task's user namespace: 0 is the initial one. */
static __always_inline __u32 vigil_read_userns_level(struct task_struct *task)
{
	return BPF_CORE_READ(task, cred, user_ns, level);
}

#endif
