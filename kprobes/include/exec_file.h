/* The files of an exec as NUL-terminated absolute paths, for the generic
 * exec hook (generic_exec.bpf.c) at sched_process_exec, where the kernel
 * has resolved and opened everything:
 *
 *   exec_file_path()    bprm->file: what the kernel executes, the last of
 *                       the chain (a #! script's interpreter)
 *   exec_script_path()  when an interpreter took over (bprm->interp is no
 *                       longer bprm->filename): the script, as the kernel
 *                       was given it. "/dev/fd/N" is fd N's file and
 *                       "/dev/fd/N/rest" its directory's path then rest
 *                       (execveat with an fd or a dirfd); a relative name
 *                       follows the cwd. The script's own file is already
 *                       released, so symlinks and ".." in the name stay as
 *                       they were written.
 *
 * Both return NULL when the path cannot be told (longer than
 * VIGIL_PATH_MAX, or an fd that is gone): the hook's string read then
 * fails and its filters cannot decide (generic_undecided.h).
 */
#ifndef VIGIL_EXEC_FILE_H
#define VIGIL_EXEC_FILE_H

#include "path.h"
#include "generic_args.h"

#define EXEC_FD_DIGITS 10 /* fds are ints */

struct vigil_exec_buf {
	char b[2 * VIGIL_PATH_MAX + 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_exec_buf);
} vigil_exec_buf SEC(".maps");

/* The absolute path of p at e->b, NUL-terminated; its length, or -1. */
static __always_inline long exec_put_path(struct vigil_exec_buf *e, const struct path *p)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vigil_path_buf *buf = vigil_path_buf();
	struct path root;
	bool truncated;
	__u64 off, len;

	if (!buf || !p->dentry)
		return -1;
	BPF_CORE_READ_INTO(&root, task, fs, root);
	off = vigil_path_resolve(p, &root, buf, &truncated);
	if (truncated || off >= VIGIL_PATH_MAX)
		return -1;
	len = VIGIL_PATH_MAX - off;
	bpf_probe_read_kernel(e->b, len, &buf->b[off]);
	e->b[len & (2 * VIGIL_PATH_MAX - 1)] = 0;
	return len;
}

static __always_inline long exec_put_file(struct vigil_exec_buf *e, struct file *f)
{
	struct path p = {};

	if (f)
		BPF_CORE_READ_INTO(&p, f, f_path);
	return exec_put_path(e, &p);
}

/* The string at name, which starts with '/', after the directory at
 * e->b[0, len): the whole is one path (the root, "/", is not doubled). */
static __always_inline const char *exec_append(struct vigil_exec_buf *e, long len, const char *name)
{
	if (len < 0 || len > VIGIL_PATH_MAX)
		return NULL;
	if (len == 1)
		len = 0;
	if (bpf_probe_read_kernel_str(&e->b[len & (2 * VIGIL_PATH_MAX - 1)], VIGIL_PATH_MAX, name) < 0)
		return NULL;
	return e->b;
}

static __always_inline const char *exec_file_path(struct linux_binprm *bprm)
{
	struct vigil_exec_buf *e;
	__u32 zero = 0;

	e = bpf_map_lookup_elem(&vigil_exec_buf, &zero);
	if (!e || exec_put_file(e, BPF_CORE_READ(bprm, file)) < 0)
		return NULL;
	return e->b;
}

/* Did an interpreter (#!, binfmt_misc) take over from the named file? */
static __always_inline bool exec_interpreted(struct linux_binprm *bprm)
{
	return BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename);
}

static __always_inline const char *exec_script_path(struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const char *name = BPF_CORE_READ(bprm, filename);
	char head[8 + EXEC_FD_DIGITS + 1] = {};
	struct vigil_exec_buf *e;
	struct path pwd;
	__u32 zero = 0, digits = 0;
	__u64 fd = 0;
	char next = 0;
	long len;

	e = bpf_map_lookup_elem(&vigil_exec_buf, &zero);
	if (!e || bpf_probe_read_kernel_str(head, sizeof(head), name) < 0)
		return NULL;
	if (head[0] == '/' && head[1] == 'd' && head[2] == 'e' && head[3] == 'v' && head[4] == '/' && head[5] == 'f' &&
	    head[6] == 'd' && head[7] == '/') {
		/* execveat(N, "") or execveat(N, "rest"): the kernel named it after the fd. */
#pragma unroll
		for (int i = 8; i < 8 + EXEC_FD_DIGITS + 1; i++) {
			next = head[i];
			if (next < '0' || next > '9')
				break;
			fd = fd * 10 + (next - '0');
			digits++;
		}
		if (digits && digits <= EXEC_FD_DIGITS && (next == 0 || next == '/'))
			return exec_append(e, exec_put_file(e, fd_file(fd)), name + 8 + digits);
	}
	if (head[0] == '/')
		return exec_append(e, 0, name);
	/* Relative: after the cwd, and a '/'. */
	BPF_CORE_READ_INTO(&pwd, task, fs, pwd);
	len = exec_put_path(e, &pwd);
	if (len < 0 || len >= VIGIL_PATH_MAX)
		return NULL;
	if (len > 1)
		e->b[len++ & (2 * VIGIL_PATH_MAX - 1)] = '/';
	if (bpf_probe_read_kernel_str(&e->b[len & (2 * VIGIL_PATH_MAX - 1)], VIGIL_PATH_MAX, name) < 0)
		return NULL;
	return e->b;
}

#endif
