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

#endif
