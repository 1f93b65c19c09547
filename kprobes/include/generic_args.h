/* Argument reading of the generic hook pipeline: each configured arg into
 * the record, integers truncated and sign-extended to their type, strings
 * bounded, files, paths and descriptors resolved to absolute paths,
 * network args as a fixed tuple (generic_net.h), other kernel objects as
 * their fixed structs (generic_kobj.h). */
#ifndef VIGIL_GENERIC_ARGS_H
#define VIGIL_GENERIC_ARGS_H

#include "generic_state.h"
#include "generic_buf.h"
#include "generic_cred.h"
#include "path.h"
#include "generic_net.h"
#include "generic_kobj.h"

static __always_inline __u64 extend(__u64 v, __u8 size, bool sgn)
{
	switch (size) {
	case 1:
		return sgn ? (__u64)(__s64)(__s8)v : (__u8)v;
	case 2:
		return sgn ? (__u64)(__s64)(__s16)v : (__u16)v;
	case 4:
		return sgn ? (__u64)(__s64)(__s32)v : (__u32)v;
	}
	return v;
}

/* Appends the absolute path of p at data[pos], at most room bytes; returns
 * its length. For FileType filters (rodata), *mode gets the inode's i_mode:
 * 0 when there is no file or no inode. */
static __always_inline __u32 put_path(struct vigil_generic_scratch *s, __u32 pos, __u32 room, const struct path *p,
				      __u8 *flags, __u64 *mode)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vigil_path_buf *buf = vigil_path_buf();
	struct path root;
	bool truncated;
	__u32 off, len;

	*mode = 0;
	if (vigil_hook.file_modes && p->dentry)
		*mode = BPF_CORE_READ(p->dentry, d_inode, i_mode);
	if (!buf) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	/* No file (NULL, an fd that names none, an anonymous mapping): an empty path, not an unreadable one. */
	if (!p->dentry)
		return 0;
	BPF_CORE_READ_INTO(&root, task, fs, root);
	off = vigil_path_resolve(p, &root, buf, &truncated);
	/* Longer than the buffer: its beginning is missing, so no filter can decide on it. */
	if (truncated)
		*flags |= VIGIL_ARG_TRUNCATED | VIGIL_ARG_ERROR;
	if (off > VIGIL_PATH_MAX - 1)
		return 0;
	len = VIGIL_PATH_MAX - off;
	if (len > room) {
		len = room;
		*flags |= VIGIL_ARG_TRUNCATED;
	}
	bpf_probe_read_kernel(&s->data[pos & ARGS_DATA_MASK], len, &buf->b[off]);
	return len;
}

static __always_inline __u32 put_file(struct vigil_generic_scratch *s, __u32 pos, __u32 room, struct file *f,
				      __u8 *flags, __u64 *mode)
{
	struct path p = {};

	if (f)
		BPF_CORE_READ_INTO(&p, f, f_path);
	return put_path(s, pos, room, &p, flags, mode);
}

static __always_inline __u32 put_string(struct vigil_generic_scratch *s, __u32 pos, __u32 room, const void *src,
					bool user, __u8 *flags)
{
	__u32 max = room < VIGIL_ARG_BYTES_MAX ? room : VIGIL_ARG_BYTES_MAX;
	char *dst = &s->data[pos & ARGS_DATA_MASK];
	long n;

	if (!max)
		return 0;
	n = user ? bpf_probe_read_user_str(dst, max, src) : bpf_probe_read_kernel_str(dst, max, src);
	if (n <= 0) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	if (n == max)
		*flags |= VIGIL_ARG_TRUNCATED;
	return n - 1;
}

/* The file behind descriptor fd of the current task. */
static __always_inline struct file *fd_file(__u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Reads arg k into data[pos]; returns its length in bytes. */
static __noinline __u32 read_arg(struct vigil_generic_scratch *s, __u32 k, __u64 raw, __u32 pos)
{
	const volatile struct vigil_arg_config *a;
	__u32 room, n = 0;
	__u8 flags = 0;
	struct path p = {};

	if (k >= VIGIL_HOOK_ARGS_MAX || pos >= ARGS_DATA_MAX)
		return 0;
	a = &vigil_hook.args[k];
	room = ARGS_DATA_MAX - pos;

	switch (a->kind) {
	case VIGIL_ARG_INT:
		s->val[k] = extend(raw, a->size, a->flags & VIGIL_SRC_SIGNED);
		if (room < sizeof(__u64)) {
			flags |= VIGIL_ARG_TRUNCATED;
			break;
		}
		bpf_probe_read_kernel(&s->data[pos & ARGS_DATA_MASK], sizeof(__u64), &s->val[k]);
		n = sizeof(__u64);
		break;
	case VIGIL_ARG_STRING:
		n = put_string(s, pos, room, (const void *)raw, a->flags & VIGIL_SRC_USER, &flags);
		break;
	case VIGIL_ARG_DATA_LOC:
		n = put_string(s, pos, room, (const void *)raw, false, &flags);
		break;
	case VIGIL_ARG_FD:
		n = put_file(s, pos, room, fd_file(raw), &flags, &s->val[k]);
		break;
	case VIGIL_ARG_FILE:
		n = put_file(s, pos, room, (struct file *)raw, &flags, &s->val[k]);
		break;
	case VIGIL_ARG_BINPRM:
		n = put_file(s, pos, room, BPF_CORE_READ((struct linux_binprm *)raw, file), &flags, &s->val[k]);
		break;
	case VIGIL_ARG_PATH:
		if (raw)
			bpf_core_read(&p, sizeof(p), (struct path *)raw);
		n = put_path(s, pos, room, &p, &flags, &s->val[k]);
		break;
	case VIGIL_ARG_DENTRY:
		/* No mount: the walk stops at the root of the dentry's file system. */
		p.dentry = (struct dentry *)raw;
		n = put_path(s, pos, room, &p, &flags, &s->val[k]);
		break;
	case VIGIL_ARG_CHAR_BUF:
		n = put_char_buf(s, a, raw, pos, room, &flags);
		break;
	case VIGIL_ARG_CHAR_IOVEC:
		return put_char_iovec(s, k, raw, pos, room);
	case VIGIL_ARG_CRED:
		n = put_cred(s, pos, room, (const struct cred *)raw, &flags);
		break;
	case VIGIL_ARG_USERNS:
		n = put_userns(s, pos, room, (const struct user_namespace *)raw, &flags);
		break;
	case VIGIL_ARG_BPF_ATTR:
		n = put_bpf_attr(s, pos, room, (const union bpf_attr *)raw, &flags);
		break;
	case VIGIL_ARG_BPF_PROG:
		n = put_bpf_prog(s, pos, room, (const struct bpf_prog *)raw, &flags);
		break;
	case VIGIL_ARG_BPF_MAP:
		n = put_bpf_map(s, pos, room, (const struct bpf_map *)raw, &flags);
		break;
	case VIGIL_ARG_PERF_EVENT:
		n = put_perf_event(s, pos, room, (const struct perf_event *)raw, &flags);
		break;
	case VIGIL_ARG_MODULE:
		n = put_module(s, pos, room, (struct module *)raw, &flags);
		break;
	case VIGIL_ARG_LOAD_INFO:
		n = put_load_info(s, pos, room, (struct load_info___vigil *)raw, &flags);
		break;
	case VIGIL_ARG_NET_DEVICE:
		n = put_net_device(s, pos, room, (const struct net_device *)raw, &flags);
		break;
	case VIGIL_ARG_SOCK:
	case VIGIL_ARG_SOCKET:
	case VIGIL_ARG_SOCKADDR:
	case VIGIL_ARG_SKB:
		n = put_net(s, k, raw, pos, &flags);
		break;
	}
	s->msg.arg_flags[k] = flags;
	return n;
}

/* Is arg position a read at return: the return value, or a returnCopy arg? */
static __always_inline bool read_at_return(__u32 a)
{
	return a >= vigil_hook.nargs || (vigil_hook.args[a & (VIGIL_HOOK_ARGS_MAX - 1)].flags & VIGIL_SRC_RETURN_COPY);
}

/* Notes that arg k's n bytes start at data[pos]; returns where the next arg starts. */
static __always_inline __u32 arg_placed(struct vigil_generic_scratch *s, __u32 k, __u32 pos, __u32 n)
{
	s->off[k] = pos;
	s->msg.arg_len[k] = n;
	return pos + n;
}

/* Reads arg k (raw: its raw value) at data[pos], or with later leaves it
 * empty for now; returns where the next arg starts. */
static __always_inline __u32 put_arg(struct vigil_generic_scratch *s, __u32 k, __u64 raw, __u32 pos, bool later)
{
	__u32 n = 0;

	s->msg.arg_flags[k] = later ? 0 : VIGIL_ARG_TRUNCATED | VIGIL_ARG_ERROR; /* no room left: not read */
	s->val[k] = 0; /* no stale integer or file mode from an earlier call */
	if (!later && pos < ARGS_DATA_MAX)
		n = read_arg(s, k, raw, pos);
	return arg_placed(s, k, pos, n);
}

/* Reads every configured arg, except with at_entry (a return probe's
 * entry) those read at return, left empty; returns the bytes used in data. */
static __always_inline __u32 read_args(struct vigil_generic_scratch *s, __u64 *raw, bool at_entry)
{
	__u32 pos = 0;

#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++)
		s->raw[k] = raw[k]; /* buffers read their size arg's */
#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		if (k >= vigil_hook.nargs)
			break;
		pos = put_arg(s, k, raw[k], pos, at_entry && read_at_return(k));
	}
	s->msg.arg_count = vigil_hook.nargs;
	return pos;
}

#endif
