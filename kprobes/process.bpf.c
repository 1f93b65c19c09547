// SPDX-License-Identifier: GPL-2.0
/* Process sensor: the life of every process, from tracepoints only, so it
 * runs on kernels without kprobes.
 *
 *   sched_process_fork  new process (not a thread) -> map entry (binary,
 *                       followChildren bits, exec-time capabilities and
 *                       namespaces copied from the parent), CLONE record
 *   sched_process_exec  map entry and binary replaced, followChildren bits of
 *                       the new binary added, capabilities and namespaces
 *                       recorded -> EXEC record: binary, args,
 *                       cwd, credentials, capabilities; flagged clone
 *                       when it is the first exec since the fork
 *   sched_process_exit  last thread gone -> EXIT record, map entries removed
 */
#include "api.h"
#include "events.h"
#include "output.h"
#include "process_map.h"
#include "path.h"
#include "task.h"

char LICENSE[] SEC("license") = "GPL";

/* Counter slots of this object's programs (agent/sensors/process.ts). */
enum { SLOT_EXEC = 0, SLOT_CLONE = 1, SLOT_EXIT = 2 };

#define EXEC_DATA_MAX (3 * VIGIL_PATH_MAX + VIGIL_ARGS_MAX)

struct exec_scratch {
	struct vigil_msg_exec msg;
	char data[EXEC_DATA_MAX];
	struct vigil_string_key fkey; /* bin follows: room for a length bounded by a mask */
	struct vigil_binary bin;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

/* Appends a resolved path at data[pos]; returns its length. */
static __always_inline __u32 put_path(struct exec_scratch *s, __u32 pos, const struct path *p,
				      const struct path *root, __u32 trunc_flag)
{
	struct vigil_path_buf *buf = vigil_path_buf();
	bool truncated;
	__u32 off, len;

	if (!buf)
		return 0;
	off = vigil_path_resolve(p, root, buf, &truncated);
	if (truncated)
		s->msg.flags |= trunc_flag;
	if (off > VIGIL_PATH_MAX - 1)
		return 0;
	len = VIGIL_PATH_MAX - off;
	if (pos > 2 * VIGIL_PATH_MAX)
		return 0;
	bpf_probe_read_kernel(&s->data[pos], len, &buf->b[off]);
	return len;
}

/* Appends the new image's argv (NUL-separated, from user memory). */
static __always_inline __u32 put_args(struct exec_scratch *s, __u32 pos, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u64 len = end - start;

	if (end <= start)
		return 0;
	if (len > VIGIL_ARGS_MAX) {
		len = VIGIL_ARGS_MAX;
		s->msg.flags |= VIGIL_FLAG_TRUNC_ARGS;
	}
	if (pos > VIGIL_PATH_MAX)
		return 0;
	if (bpf_probe_read_user(&s->data[pos], len, (void *)start)) {
		s->msg.flags |= VIGIL_FLAG_ERROR_ARGS;
		return 0;
	}
	return len;
}

/* Appends the name exec was given (bprm->filename), without its NUL; returns its length. */
static __always_inline __u32 put_filename(struct exec_scratch *s, __u32 pos, struct linux_binprm *bprm)
{
	long n;

	if (pos > EXEC_DATA_MAX - VIGIL_PATH_MAX)
		return 0;
	n = bpf_probe_read_kernel_str(&s->data[pos], VIGIL_PATH_MAX, BPF_CORE_READ(bprm, filename));
	return n > 1 ? n - 1 : 0;
}

#define S_ISUID 04000
#define S_ISGID 02000
#define S_IXGRP 00010

/* What the exec changed: set-user-ID and set-group-ID files, file
 * capabilities (old: the process map entry before this exec). */
static __always_inline __u32 exec_secure(struct exec_scratch *s, struct inode *inode, struct vigil_process_entry *old)
{
	umode_t mode = BPF_CORE_READ(inode, i_mode);
	__u32 secure = 0;

	if ((mode & S_ISUID) && s->msg.creds.euid == BPF_CORE_READ(inode, i_uid.val) && s->msg.creds.euid != s->msg.creds.uid) {
		secure |= VIGIL_EXEC_SETUID;
		if (s->msg.creds.euid == 0)
			secure |= VIGIL_EXEC_SETUID_ROOT;
	}
	if ((mode & S_ISGID) && (mode & S_IXGRP) && s->msg.creds.egid == BPF_CORE_READ(inode, i_gid.val) &&
	    s->msg.creds.egid != s->msg.creds.gid) {
		secure |= VIGIL_EXEC_SETGID;
		if (s->msg.creds.egid == 0)
			secure |= VIGIL_EXEC_SETGID_ROOT;
	}
	if (old && s->msg.creds.euid != 0 && (s->msg.caps.permitted & ~old->caps.permitted))
		secure |= VIGIL_EXEC_FILE_CAP;
	return secure;
}

/* The binary (data[0, binary_len)) for matchBinaries: its first VIGIL_BINARY_MAX bytes. */
static __always_inline void put_binary(struct exec_scratch *s, __u32 tgid)
{
	__u32 len = s->msg.binary_len;

	s->bin.len = len;
	s->bin.pad0 = 0;
	if (len > VIGIL_BINARY_MAX)
		len = VIGIL_BINARY_MAX;
	bpf_probe_read_kernel(s->bin.path, len, s->data);
	bpf_map_update_elem(&vigil_binaries, &tgid, &s->bin, BPF_ANY);
}

/* The followChildren bits of the binary at data[0, binary_len), if any filter names it. */
static __always_inline __u64 follow_bits(struct exec_scratch *s)
{
	__u32 len = s->msg.binary_len;
	__u64 *bits;

	if (!len || len > VIGIL_STRING_KEY_MAX)
		return 0;
	__builtin_memset(&s->fkey, 0, sizeof(s->fkey));
	s->fkey.len = len;
	bpf_probe_read_kernel(s->fkey.s, len & 511, s->data);
	bits = bpf_map_lookup_elem(&vigil_follow, &s->fkey);
	return bits ? *bits : 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0, tgid = BPF_CORE_READ(task, tgid), pos;
	struct vigil_process_entry entry = {}, *old;
	struct exec_scratch *s;
	struct path root, pwd, file;
	struct inode *inode;

	s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s)
		return 0;
	s->msg.proc.pid = tgid;
	s->msg.proc.pad0 = 0;
	s->msg.proc.ktime = bpf_ktime_get_ns();
	vigil_process_id_of(BPF_CORE_READ(task, real_parent, tgid), &s->msg.parent);
	s->msg.tid = BPF_CORE_READ(task, pid);
	s->msg.auid = vigil_read_auid(task);
	s->msg.flags = VIGIL_FLAG_EXECVE;
	/* The first exec after a fork: the process was cloned for it. */
	old = vigil_process_lookup(tgid);
	if (old && (old->flags & VIGIL_FLAG_CLONE) && !(old->flags & VIGIL_FLAG_EXECVE))
		s->msg.flags |= VIGIL_FLAG_CLONE;
	s->msg.nspid = vigil_read_nspid(task);
	vigil_read_creds(task, &s->msg.creds, &s->msg.caps);
	s->msg.cgroup_id = bpf_get_current_cgroup_id();

	BPF_CORE_READ_INTO(&root, task, fs, root);
	BPF_CORE_READ_INTO(&pwd, task, fs, pwd);
	BPF_CORE_READ_INTO(&file, bprm, file, f_path);

	pos = put_path(s, 0, &file, &root, VIGIL_FLAG_TRUNC_FILENAME);
	s->msg.binary_len = pos;
	s->msg.args_len = put_args(s, pos, task);
	pos += s->msg.args_len;
	s->msg.cwd_len = put_path(s, pos, &pwd, &root, VIGIL_FLAG_TRUNC_CWD);
	if (pwd.dentry == root.dentry && pwd.mnt == root.mnt)
		s->msg.flags |= VIGIL_FLAG_ROOTCWD;
	pos += s->msg.cwd_len;
	inode = BPF_CORE_READ(bprm, file, f_inode);
	s->msg.ino = BPF_CORE_READ(inode, i_ino);
	s->msg.nlink = BPF_CORE_READ(inode, __i_nlink);
	s->msg.secure = exec_secure(s, inode, old);
	s->msg.filename_len = 0;
	if (s->msg.nlink == 0) {
		s->msg.filename_len = put_filename(s, pos, bprm);
		pos += s->msg.filename_len;
	}

	entry.proc = s->msg.proc;
	entry.parent = s->msg.parent;
	entry.flags = s->msg.flags;
	entry.nspid = s->msg.nspid;
	entry.caps = s->msg.caps;
	vigil_read_ns(task, entry.ns);
	__builtin_memcpy(s->msg.ns, entry.ns, sizeof(s->msg.ns));
	/* A followed process stays followed across exec. */
	entry.follow = (old ? old->follow : 0) | follow_bits(s);
	bpf_map_update_elem(&vigil_processes, &tgid, &entry, BPF_ANY);
	put_binary(s, tgid);

	/* Clamped in the register the ring buffer call reads: older verifiers lose a bound checked on a copy. */
	__u64 len = sizeof(s->msg) + pos;
	asm volatile("if %[x] <= %[m] goto +1\n\t%[x] = %[m]" : [x] "+r"(len) : [m] "i"(sizeof(*s)));
	vigil_emit(s, len, VIGIL_OP_EXEC, SLOT_EXEC);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vigil_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid), ptgid = BPF_CORE_READ(parent, tgid);
	struct vigil_process_entry entry = {}, *pe;
	struct vigil_msg_clone msg = {};
	struct vigil_creds creds;
	struct vigil_binary *bin;

	if (BPF_CORE_READ(child, pid) != tgid)
		return 0;
	msg.proc.pid = tgid;
	msg.proc.ktime = bpf_ktime_get_ns();
	vigil_process_id_of(ptgid, &msg.parent);
	msg.tid = tgid;
	msg.flags = VIGIL_FLAG_CLONE;

	entry.proc = msg.proc;
	entry.parent = msg.parent;
	entry.flags = msg.flags;
	entry.nspid = vigil_read_nspid(child);
	pe = vigil_process_lookup(ptgid);
	if (pe) {
		entry.follow = pe->follow;
		entry.caps = pe->caps;
		__builtin_memcpy(entry.ns, pe->ns, sizeof(entry.ns));
	} else {
		vigil_read_creds(child, &creds, &entry.caps);
		vigil_read_ns(child, entry.ns);
	}
	bpf_map_update_elem(&vigil_processes, &tgid, &entry, BPF_ANY);
	bin = bpf_map_lookup_elem(&vigil_binaries, &ptgid);
	if (bin)
		bpf_map_update_elem(&vigil_binaries, &tgid, bin, BPF_ANY);
	vigil_emit(&msg, sizeof(msg), VIGIL_OP_CLONE, SLOT_CLONE);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct vigil_msg_exit msg = {};

	/* The tracepoint fires for every thread; signal->live reaches zero
	 * before it fires for the last one. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	vigil_process_id_of(tgid, &msg.proc);
	msg.tid = BPF_CORE_READ(task, pid);
	msg.code = BPF_CORE_READ(task, exit_code);
	vigil_emit(&msg, sizeof(msg), VIGIL_OP_EXIT, SLOT_EXIT);
	bpf_map_delete_elem(&vigil_processes, &tgid);
	bpf_map_delete_elem(&vigil_binaries, &tgid);
	return 0;
}
