/* Credentials in the generic hook pipeline: a struct cred * arg read into
 * struct vigil_cred_arg (ids, capability sets, securebits, user
 * namespace), a struct user_namespace * arg into struct vigil_userns, and
 * the CapabilitiesGained filter, which compares its
 * permitted set with the current task's: on commit_creds(new), what the
 * task is about to gain. */
#ifndef VIGIL_GENERIC_CRED_H
#define VIGIL_GENERIC_CRED_H

#include "generic_state.h"

static __always_inline void read_userns(const struct user_namespace *ns, struct vigil_userns *u)
{
	u->level = BPF_CORE_READ(ns, level);
	u->uid = BPF_CORE_READ(ns, owner.val);
	u->gid = BPF_CORE_READ(ns, group.val);
	u->inum = BPF_CORE_READ(ns, ns.inum);
}

static __always_inline __u32 put_userns(struct vigil_generic_scratch *s, __u32 pos, __u32 room,
					const struct user_namespace *ns, __u8 *flags)
{
	struct vigil_userns u = {};

	if (!ns) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	if (room < sizeof(u)) {
		*flags |= VIGIL_ARG_TRUNCATED;
		return 0;
	}
	read_userns(ns, &u);
	bpf_probe_read_kernel(&s->data[pos & ARGS_DATA_MASK], sizeof(u), &u);
	return sizeof(u);
}

static __always_inline __u32 put_cred(struct vigil_generic_scratch *s, __u32 pos, __u32 room, const struct cred *cred,
				      __u8 *flags)
{
	struct vigil_cred_arg c = {};
	struct user_namespace *ns;

	if (!cred) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	if (room < sizeof(c)) {
		*flags |= VIGIL_ARG_TRUNCATED;
		return 0;
	}
	c.creds.uid = BPF_CORE_READ(cred, uid.val);
	c.creds.gid = BPF_CORE_READ(cred, gid.val);
	c.creds.suid = BPF_CORE_READ(cred, suid.val);
	c.creds.sgid = BPF_CORE_READ(cred, sgid.val);
	c.creds.euid = BPF_CORE_READ(cred, euid.val);
	c.creds.egid = BPF_CORE_READ(cred, egid.val);
	c.creds.fsuid = BPF_CORE_READ(cred, fsuid.val);
	c.creds.fsgid = BPF_CORE_READ(cred, fsgid.val);
	/* kernel_cap_t is u32[2] before 6.3 and u64 since: both are 8 bytes. */
	bpf_core_read(&c.caps.permitted, 8, &cred->cap_permitted);
	bpf_core_read(&c.caps.effective, 8, &cred->cap_effective);
	bpf_core_read(&c.caps.inheritable, 8, &cred->cap_inheritable);
	c.securebits = BPF_CORE_READ(cred, securebits);
	ns = BPF_CORE_READ(cred, user_ns);
	if (ns)
		read_userns(ns, &c.userns);
	bpf_probe_read_kernel(&s->data[pos & ARGS_DATA_MASK], sizeof(c), &c);
	return sizeof(c);
}

/* CapabilitiesGained: does the cred arg at data[off] permit one of mask's
 * capabilities that the current task's credentials do not? */
static __noinline bool caps_gained(struct vigil_generic_scratch *s, __u32 off, __u32 len, __u64 mask)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *old = BPF_CORE_READ(task, cred);
	__u64 before = 0, after = 0;

	if (len < sizeof(struct vigil_cred_arg) || off > ARGS_DATA_MAX)
		return false;
	bpf_core_read(&before, 8, &old->cap_permitted);
	bpf_probe_read_kernel(&after, sizeof(after),
			      &s->data[(off + __builtin_offsetof(struct vigil_cred_arg, caps.permitted)) & ARGS_DATA_MASK]);
	return (after & ~before & mask) != 0;
}

#endif
