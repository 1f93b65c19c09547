// SPDX-License-Identifier: GPL-2.0
/* Test program: a BPF LSM hook that denies one tgid the open of one inode. */
#include "api.h"

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid;
const volatile __u64 deny_ino;

SEC("lsm/file_open")
int BPF_PROG(deny_open, struct file *file, int ret)
{
	/* An earlier LSM program already decided. */
	if (ret)
		return ret;
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	if (BPF_CORE_READ(file, f_inode, i_ino) != deny_ino)
		return 0;
	return -EPERM;
}
