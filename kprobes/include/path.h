/* Resolves a struct path to an absolute path string, in the kernel.
 *
 * Walks dentries leaf to root, crossing mounts, stopping at the task's
 * root (so a chrooted or containerised process sees its own view), and
 * writes the components backwards into the end of a scratch buffer:
 * the path is buf[off .. VIGIL_PATH_MAX), without a terminating NUL.
 * Without a mount (a bare dentry) the walk ends at its file system's root.
 */
#ifndef VIGIL_PATH_H
#define VIGIL_PATH_H

#include "events.h"

#define VIGIL_NAME_MAX 255
/* Every component a VIGIL_PATH_MAX path can hold ("/a" each): only a
 * longer path is cut, never a deep one. */
#define VIGIL_PATH_DEPTH (VIGIL_PATH_MAX / 2)

/* Slack after VIGIL_PATH_MAX lets the verifier see every write in bounds. */
struct vigil_path_buf {
	char b[VIGIL_PATH_MAX + VIGIL_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_path_buf);
} vigil_path_scratch SEC(".maps");

static __always_inline struct vigil_path_buf *vigil_path_buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vigil_path_scratch, &zero);
}

struct vigil_path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 off;
	bool truncated;
};

/* One step of the walk, run by bpf_loop so the verifier checks it once. */
static long vigil_path_step(__u32 i, void *ctx)
{
	struct vigil_path_walk *w = ctx;
	struct vigil_path_buf *buf = vigil_path_buf();
	struct dentry *dentry = w->dentry, *mnt_root, *parent;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct qstr name;
	__u32 len, off;

	if (!buf)
		return 1;
	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->truncated = false;
		return 1;
	}
	mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	if (dentry == mnt_root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (up == mnt) {
			w->truncated = false;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = &up->mnt;
		return 0;
	}
	parent = BPF_CORE_READ(dentry, d_parent);
	name = BPF_CORE_READ(dentry, d_name);
	if (parent == dentry) {
		char first = '/';

		/* A file system's root ends the walk; so does a pseudo file's
		 * dentry (a memfd's "memfd:NAME"), which is its own parent and
		 * is named, as Tetragon and /proc name it. */
		w->truncated = false;
		bpf_probe_read_kernel(&first, 1, name.name);
		if (first == '/' || !name.len)
			return 1;
	}
	len = name.len & VIGIL_NAME_MAX;
	off = w->off & (VIGIL_PATH_MAX * 2 - 1);
	if (off > VIGIL_PATH_MAX || off < len + 1) {
		w->truncated = true;
		return 1;
	}
	off -= len;
	bpf_probe_read_kernel(&buf->b[off & (VIGIL_PATH_MAX - 1)], len, name.name);
	off -= 1;
	buf->b[off & (VIGIL_PATH_MAX - 1)] = '/';
	w->off = off;
	w->dentry = parent;
	return parent == dentry;
}

/* Returns the start offset of the path in buf->b; sets *truncated when
 * the path was longer than the buffer: its beginning is then missing. */
static __always_inline __u32 vigil_path_resolve(const struct path *p, const struct path *root,
						struct vigil_path_buf *buf, bool *truncated)
{
	struct vigil_path_walk w = {};

	w.dentry = BPF_CORE_READ(p, dentry);
	w.vfsmnt = BPF_CORE_READ(p, mnt);
	w.mnt = VIGIL_CONTAINER_OF(w.vfsmnt, struct mount, mnt);
	w.root_dentry = BPF_CORE_READ(root, dentry);
	w.root_mnt = BPF_CORE_READ(root, mnt);
	w.off = VIGIL_PATH_MAX;
	w.truncated = true;
	bpf_loop(VIGIL_PATH_DEPTH, vigil_path_step, &w, 0);
	*truncated = w.truncated;
	if (w.off >= VIGIL_PATH_MAX) {
		buf->b[VIGIL_PATH_MAX - 1] = '/';
		return VIGIL_PATH_MAX - 1;
	}
	return w.off;
}

#endif
