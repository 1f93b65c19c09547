/* The generic hook pipeline, shared by the thin program of each hook type
 * (generic_tracepoint.bpf.c, generic_kprobe.bpf.c, generic_fentry.bpf.c,
 * generic_lsm.bpf.c). Each fetches its raw argument values its own way,
 * then calls vigil_generic_run(), which returns what the hook returns:
 *
 *   each selector's process filters (matchPIDs, matchBinaries)  none pass: done
 *   read the args per config into the record: integers, strings,
 *     fd / file / path / linux_binprm -> absolute path (path.h)
 *   first selector whose matchArgs all pass                     none: done
 *   act: signal the task (Sigkill, Signal); Override: the value to return
 *   emit the record unless NoPost
 *
 * No selectors: every call is posted. The configuration is rodata, so the
 * verifier sees it as constants and only walks the filters a hook has. The
 * stages are static subprograms called with constant indices: one copy of
 * the code, and the verifier follows each call with its constants.
 */
#ifndef VIGIL_GENERIC_H
#define VIGIL_GENERIC_H

#include "events.h"
#include "output.h"
#include "process_map.h"
#include "path.h"
#include "task.h"
#include "generic_config.h"

/* Written by the agent before load (policies/compiler/encode.ts). */
const volatile struct vigil_hook_config vigil_hook = {};

#define ARGS_DATA_MAX (4 * VIGIL_ARG_BYTES_MAX) /* all args' bytes of one record */
#define ARGS_DATA_MASK (ARGS_DATA_MAX - 1)
#define BIN_OFF (ARGS_DATA_MAX + VIGIL_ARG_BYTES_MAX) /* the process's binary, for matchBinaries */

struct vigil_generic_scratch {
	struct vigil_msg_generic msg;
	char data[BIN_OFF + VIGIL_BINARY_MAX]; /* follows msg: the record's variable part */
	__u64 val[VIGIL_HOOK_ARGS_MAX];        /* integer args, for filters */
	__u32 off[VIGIL_HOOK_ARGS_MAX];        /* where each arg's bytes start in data */
	struct vigil_string_key skey;
	struct vigil_lpm_key lkey;
	__u32 bin_len; /* full length of the binary path; 0: unknown */
	__u32 pad0;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_generic_scratch);
} vigil_generic_scratch SEC(".maps");

/* Selector string values; sized by the agent before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct vigil_string_key);
	__type(value, __u8);
} vigil_str_eq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_lpm_key);
	__type(value, __u8);
} vigil_str_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_lpm_key);
	__type(value, __u8);
} vigil_str_postfix SEC(".maps");

/* Masks v in a way clang cannot drop as redundant, so the verifier sees the bound. */
#define BOUND(v, mask) asm volatile("%[x] &= " #mask : [x] "+r"(v))

static __always_inline struct vigil_generic_scratch *generic_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vigil_generic_scratch, &zero);
}

/* ---- filters ---- */

static __always_inline bool int_filter(const volatile struct vigil_arg_filter *f, __u64 v, bool sgn)
{
	__u8 op = f->op;
	bool hit = false;

#pragma unroll
	for (int i = 0; i < VIGIL_FILTER_VALUES_MAX; i++) {
		__u64 x;

		if (i >= f->count)
			break;
		x = f->values[i];
		if (op == VIGIL_FOP_EQ || op == VIGIL_FOP_NEQ)
			hit |= v == x;
		else if (op == VIGIL_FOP_GT)
			hit |= sgn ? (__s64)v > (__s64)x : v > x;
		else if (op == VIGIL_FOP_LT)
			hit |= sgn ? (__s64)v < (__s64)x : v < x;
		else if (op == VIGIL_FOP_MASK)
			hit |= (v & x) != 0;
	}
	return op == VIGIL_FOP_NEQ ? !hit : hit;
}

/* Equal / In: are the len bytes at data[off] one of the filter's values? */
static __noinline bool str_equal(struct vigil_generic_scratch *s, __u8 id, __u32 off, __u32 len)
{
	__u64 n = len;

	if (len > VIGIL_STRING_KEY_MAX || off > BIN_OFF)
		return false;
	__builtin_memset(&s->skey, 0, sizeof(s->skey));
	s->skey.id = id;
	s->skey.len = len;
	BOUND(n, 511); /* len <= VIGIL_STRING_KEY_MAX already */
	bpf_probe_read_kernel(s->skey.s, n, &s->data[off]);
	return bpf_map_lookup_elem(&vigil_str_eq, &s->skey) != NULL;
}

/* Prefix: does a value of the filter start the bytes at data[off]? */
static __noinline bool str_prefix(struct vigil_generic_scratch *s, __u8 id, __u32 off, __u32 len)
{
	__u64 n = len < VIGIL_LPM_DATA_MAX - 1 ? len : VIGIL_LPM_DATA_MAX - 1;

	if (off > BIN_OFF)
		return false;
	BOUND(n, 255);
	s->lkey.prefixlen = 8 * (n + 1);
	s->lkey.data[0] = id;
	bpf_probe_read_kernel(&s->lkey.data[1], n, &s->data[off]);
	return bpf_map_lookup_elem(&vigil_str_prefix, &s->lkey) != NULL;
}

struct reverse_ctx {
	__u32 end; /* one past the last byte to copy, in data */
	__u32 n;
};

/* Copies data[end - 1 - i] to lkey.data[1 + i]. */
static long reverse_step(__u32 i, void *ctx)
{
	struct reverse_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();
	__u32 from = c->end - 1 - i;

	if (!s || i >= c->n || from >= sizeof(s->data))
		return 1;
	s->lkey.data[(1 + i) & (VIGIL_LPM_DATA_MAX - 1)] = s->data[from];
	return 0;
}

/* Postfix: does a value of the filter end the bytes at data[off]? Both are reversed. */
static __noinline bool str_postfix(struct vigil_generic_scratch *s, __u8 id, __u32 off, __u32 len)
{
	struct reverse_ctx c = { .end = off + len };

	c.n = len < VIGIL_LPM_DATA_MAX - 1 ? len : VIGIL_LPM_DATA_MAX - 1;
	s->lkey.prefixlen = 8 * (c.n + 1);
	s->lkey.data[0] = id;
	bpf_loop(c.n, reverse_step, &c, 0);
	return bpf_map_lookup_elem(&vigil_str_postfix, &s->lkey) != NULL;
}

static __always_inline bool str_filter(struct vigil_generic_scratch *s, __u8 op, __u8 id, __u32 off, __u32 len)
{
	switch (op) {
	case VIGIL_FOP_EQ:
		return str_equal(s, id, off, len);
	case VIGIL_FOP_NEQ:
		return !str_equal(s, id, off, len);
	case VIGIL_FOP_PREFIX:
		return str_prefix(s, id, off, len);
	case VIGIL_FOP_NOT_PREFIX:
		return !str_prefix(s, id, off, len);
	case VIGIL_FOP_POSTFIX:
		return str_postfix(s, id, off, len);
	case VIGIL_FOP_NOT_POSTFIX:
		return !str_postfix(s, id, off, len);
	}
	return false;
}

/* Filter i of selector sel's matchArgs. */
static __noinline bool arg_filter(struct vigil_generic_scratch *s, __u32 sel, __u32 i)
{
	const volatile struct vigil_arg_filter *f;
	__u32 a;

	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_ARGS_MAX)
		return false;
	f = &vigil_hook.selectors[sel].args[i];
	a = f->arg;

	if (a >= VIGIL_HOOK_ARGS_MAX)
		return false;
	if (vigil_hook.args[a].kind == VIGIL_ARG_INT)
		return int_filter(f, s->val[a], vigil_hook.args[a].flags & VIGIL_SRC_SIGNED);
	return str_filter(s, f->op, f->id, s->off[a], s->msg.arg_len[a]);
}

static __noinline bool pid_in(const volatile struct vigil_pid_filter *f, __u32 pid)
{
	bool hit = false;

#pragma unroll
	for (int i = 0; i < VIGIL_FILTER_VALUES_MAX; i++) {
		if (i >= f->count)
			break;
		hit |= f->values[i] == pid;
	}
	return hit;
}

#define ANCESTORS_MAX 16

/* followForks: a process whose ancestor is in the set is in it too. */
static __always_inline bool ancestor_in(const volatile struct vigil_pid_filter *f, __u32 tgid)
{
	__u32 p = tgid;

#pragma nounroll
	for (int i = 0; i < ANCESTORS_MAX; i++) {
		struct vigil_process_entry *e = vigil_process_lookup(p);

		if (!e || !e->parent.pid || e->parent.pid == p)
			return false;
		p = e->parent.pid;
		if (pid_in(f, p))
			return true;
	}
	return false;
}

/* Filter i of selector sel's matchPIDs. */
static __noinline bool pid_filter(__u32 sel, __u32 i, __u32 tgid)
{
	const volatile struct vigil_pid_filter *f;
	__u32 pid = tgid;
	bool hit;

	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_PIDS_MAX)
		return false;
	f = &vigil_hook.selectors[sel].pids[i];

	if (f->flags & VIGIL_PID_NAMESPACE)
		pid = vigil_read_nspid((struct task_struct *)bpf_get_current_task());
	hit = pid_in(f, pid);
	if (!hit && (f->flags & VIGIL_PID_FOLLOW_FORKS))
		hit = ancestor_in(f, tgid);
	return f->op == VIGIL_FOP_NEQ ? !hit : hit;
}

/* Filter i of selector sel's matchBinaries. The binary is at data[BIN_OFF]:
 * its first VIGIL_BINARY_MAX bytes; bin_len is its full length. */
static __noinline bool bin_filter(struct vigil_generic_scratch *s, __u32 sel, __u32 i)
{
	const volatile struct vigil_bin_filter *f;
	__u32 len = s->bin_len, kept = len < VIGIL_BINARY_MAX ? len : VIGIL_BINARY_MAX;
	__u8 op;

	if (sel >= VIGIL_SELECTORS_MAX || i >= VIGIL_SEL_BINS_MAX)
		return false;
	f = &vigil_hook.selectors[sel].bins[i];
	op = f->op;

	/* A path longer than what is kept has an unknown end. */
	if ((op == VIGIL_FOP_POSTFIX || op == VIGIL_FOP_NOT_POSTFIX) && len > VIGIL_BINARY_MAX)
		return op == VIGIL_FOP_NOT_POSTFIX;
	if (op == VIGIL_FOP_EQ || op == VIGIL_FOP_NEQ)
		kept = len;
	return str_filter(s, op, f->id, BIN_OFF, kept);
}

static __always_inline bool needs_binary(void)
{
	bool needs = false;

#pragma unroll
	for (int i = 0; i < VIGIL_SELECTORS_MAX; i++)
		if (i < vigil_hook.nselectors && vigil_hook.selectors[i].nbins)
			needs = true;
	return needs;
}

static __always_inline void load_binary(struct vigil_generic_scratch *s, __u32 tgid)
{
	struct vigil_binary *b = bpf_map_lookup_elem(&vigil_binaries, &tgid);

	s->bin_len = 0;
	if (!b)
		return;
	s->bin_len = b->len;
	bpf_probe_read_kernel(&s->data[BIN_OFF], VIGIL_BINARY_MAX, b->path);
}

static __always_inline bool process_ok(struct vigil_generic_scratch *s, __u32 sel, __u32 tgid)
{
#pragma unroll
	for (int i = 0; i < VIGIL_SEL_PIDS_MAX; i++)
		if (i < vigil_hook.selectors[sel].npids && !pid_filter(sel, i, tgid))
			return false;
#pragma unroll
	for (int i = 0; i < VIGIL_SEL_BINS_MAX; i++)
		if (i < vigil_hook.selectors[sel].nbins && !bin_filter(s, sel, i))
			return false;
	return true;
}

static __always_inline bool args_ok(struct vigil_generic_scratch *s, __u32 sel)
{
#pragma unroll
	for (int i = 0; i < VIGIL_SEL_ARGS_MAX; i++) {
		if (i >= vigil_hook.selectors[sel].nargs)
			break;
		if (!arg_filter(s, sel, i))
			return false;
	}
	return true;
}

/* ---- arguments ---- */

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

/* Appends the absolute path of p at data[pos], at most room bytes; returns its length. */
static __always_inline __u32 put_path(struct vigil_generic_scratch *s, __u32 pos, __u32 room, const struct path *p,
				      __u8 *flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vigil_path_buf *buf = vigil_path_buf();
	struct path root;
	bool truncated;
	__u32 off, len;

	if (!buf || !p->dentry) {
		*flags |= VIGIL_ARG_ERROR;
		return 0;
	}
	BPF_CORE_READ_INTO(&root, task, fs, root);
	off = vigil_path_resolve(p, &root, buf, &truncated);
	if (truncated)
		*flags |= VIGIL_ARG_TRUNCATED;
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
				      __u8 *flags)
{
	struct path p = {};

	if (f)
		BPF_CORE_READ_INTO(&p, f, f_path);
	return put_path(s, pos, room, &p, flags);
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
	case VIGIL_ARG_FD:
		n = put_file(s, pos, room, fd_file(raw), &flags);
		break;
	case VIGIL_ARG_FILE:
		n = put_file(s, pos, room, (struct file *)raw, &flags);
		break;
	case VIGIL_ARG_BINPRM:
		n = put_file(s, pos, room, BPF_CORE_READ((struct linux_binprm *)raw, file), &flags);
		break;
	case VIGIL_ARG_PATH:
		if (raw)
			bpf_core_read(&p, sizeof(p), (struct path *)raw);
		n = put_path(s, pos, room, &p, &flags);
		break;
	}
	s->msg.arg_flags[k] = flags;
	return n;
}

/* Reads every configured arg; returns the bytes used in data. */
static __always_inline __u32 read_args(struct vigil_generic_scratch *s, __u64 *raw)
{
	__u32 pos = 0;

#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++) {
		__u32 n = 0;

		if (k >= vigil_hook.nargs)
			break;
		s->msg.arg_flags[k] = VIGIL_ARG_TRUNCATED;
		if (pos < ARGS_DATA_MAX)
			n = read_arg(s, k, raw[k], pos);
		s->off[k] = pos;
		s->msg.arg_len[k] = n;
		pos += n;
	}
	s->msg.arg_count = vigil_hook.nargs;
	return pos;
}

/* ---- act and emit ---- */

static __always_inline void emit(struct vigil_generic_scratch *s, __u32 size)
{
	if (size > ARGS_DATA_MAX)
		size = ARGS_DATA_MAX;
	vigil_emit(s, sizeof(s->msg) + size, VIGIL_OP_GENERIC, vigil_hook.slot);
}

static __noinline long act(struct vigil_generic_scratch *s, __u32 size, __u32 i)
{
	const volatile struct vigil_selector_action *a;
	long ret;

	if (i >= VIGIL_SELECTORS_MAX)
		return 0;
	a = &vigil_hook.selectors[i].act;
	ret = a->override ? a->error : 0;

	if (a->signal)
		bpf_send_signal(a->signal);
	s->msg.action = a->action;
	s->msg.selector = i + 1;
	s->msg.ret = ret;
	if (a->post)
		emit(s, size);
	return ret;
}

/* raw[k]: the raw value of vigil_hook.args[k]. Returns what the hook returns (0, or Override's error). */
static __always_inline long vigil_generic_run(__u64 *raw)
{
	struct vigil_generic_scratch *s = generic_scratch();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, pass = 0, size;

	if (!s)
		return 0;
	if (vigil_hook.nselectors) {
		if (needs_binary())
			load_binary(s, tgid);
#pragma unroll
		for (int i = 0; i < VIGIL_SELECTORS_MAX; i++)
			if (i < vigil_hook.nselectors && process_ok(s, i, tgid))
				pass |= 1 << i;
		if (!pass)
			return 0;
	}

	size = read_args(s, raw);
	vigil_process_id_of(tgid, &s->msg.proc);
	s->msg.tid = (__u32)pid_tgid;
	s->msg.hook_id = vigil_hook.hook_id;
	s->msg.pad0 = 0;
	s->msg.pad1 = 0;

	if (!vigil_hook.nselectors) {
		s->msg.action = VIGIL_ACTION_POST;
		s->msg.selector = 0;
		s->msg.ret = 0;
		emit(s, size);
		return 0;
	}
#pragma unroll
	for (int i = 0; i < VIGIL_SELECTORS_MAX; i++) {
		if (i >= vigil_hook.nselectors)
			break;
		if ((pass & (1 << i)) && args_ok(s, i))
			return act(s, size, i);
	}
	return 0;
}

#endif
