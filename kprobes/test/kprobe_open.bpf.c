// SPDX-License-Identifier: GPL-2.0
/* Test program: a kprobe on security_file_open that records, for one tgid,
 * the inode number and dentry name of each file it opens. */
#include "api.h"

/* One ring buffer record; test/kprobe-event.test.ts decodes it. */
struct open_record {
	__u64 ino;
	char name[64];
};

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} open_events SEC(".maps");

SEC("kprobe/security_file_open")
int BPF_KPROBE(kprobe_open, struct file *file)
{
	struct open_record *rec;
	const unsigned char *name;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	rec = bpf_ringbuf_reserve(&open_events, sizeof(*rec), 0);
	if (!rec)
		return 0;
	rec->ino = BPF_CORE_READ(file, f_inode, i_ino);
	name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(rec->name, sizeof(rec->name), name) < 0)
		rec->name[0] = 0;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}
