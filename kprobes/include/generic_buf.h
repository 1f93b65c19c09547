/* Buffers of the generic hook pipeline: char_buf (a pointer and a size)
 * and char_iovec (an iovec array and its count). The bytes come from user
 * memory, or from kernel memory when that fails, in chunks of at most
 * VIGIL_ARG_BYTES_MAX. Their record bytes: the full size as a u64, then
 * what was copied: VIGIL_ARG_BYTES_MAX bytes at most, or with maxData the
 * record's room. Fewer bytes than the size: VIGIL_ARG_TRUNCATED. */
#ifndef VIGIL_GENERIC_BUF_H
#define VIGIL_GENERIC_BUF_H

#include "generic_state.h"

#define BUF_CHUNKS (ARGS_DATA_MAX / VIGIL_ARG_BYTES_MAX)

/* v = min(v, max) (unsigned, v a __u64) in asm, where the verifier sees it:
 * clang may otherwise bound a copy and pass on the unbounded value. */
#define CLAMP(v, max) asm volatile("if %[x] <= %[m] goto +1\n\t%[x] = %[m]" : [x] "+r"(v) : [m] "i"(max))
#define IOVEC_MAX 32 /* iovec entries read; later ones count as truncated */

/* Copies n bytes (at most VIGIL_ARG_BYTES_MAX) from src to data[pos]. */
static __always_inline bool buf_chunk(struct vigil_generic_scratch *s, __u32 pos, const void *src, __u64 n)
{
	char *dst = &s->data[pos & ARGS_DATA_MASK];

	CLAMP(n, VIGIL_ARG_BYTES_MAX);
	if (!bpf_probe_read_user(dst, n, src))
		return true;
	return !bpf_probe_read_kernel(dst, n, src);
}

static __always_inline void put_u64(struct vigil_generic_scratch *s, __u32 pos, __u64 v)
{
	bpf_probe_read_kernel(&s->data[pos & ARGS_DATA_MASK], sizeof(v), &v);
}

/* How many bytes a buffer arg may copy into room. */
static __always_inline __u32 buf_limit(const volatile struct vigil_arg_config *a, __u32 room)
{
	if (!(a->flags & VIGIL_SRC_MAX_DATA) && room > VIGIL_ARG_BYTES_MAX)
		return VIGIL_ARG_BYTES_MAX;
	return room;
}

/* The size of buffer arg a: its size arg's raw value, else (returnCopy) the return value. */
static __always_inline __s64 buf_size(struct vigil_generic_scratch *s, const volatile struct vigil_arg_config *a)
{
	__u32 i = a->size_arg ? a->size_arg - 1 : vigil_hook.nargs;

	return (__s64)s->raw[i & (VIGIL_HOOK_ARGS_MAX - 1)];
}

/* char_buf: the size, then up to the limit of its bytes; returns the bytes used. */
static __always_inline __u32 put_char_buf(struct vigil_generic_scratch *s, const volatile struct vigil_arg_config *a,
					  __u64 src, __u32 pos, __u32 room, __u8 *flags)
{
	__s64 size = buf_size(s, a);
	__u32 want, done = 0, limit;

	if (room < sizeof(__u64)) {
		*flags |= VIGIL_ARG_TRUNCATED;
		return 0;
	}
	if (size < 0) { /* a failed call (returnCopy) or a bad size: nothing to copy */
		*flags |= VIGIL_ARG_ERROR;
		size = 0;
	}
	put_u64(s, pos, size);
	limit = buf_limit(a, room - sizeof(__u64));
	want = (__u64)size < limit ? size : limit;
	if (want < (__u64)size)
		*flags |= VIGIL_ARG_TRUNCATED;
	for (int i = 0; i < BUF_CHUNKS; i++) {
		__u32 n = want - done;

		if (!n)
			break;
		if (!buf_chunk(s, pos + sizeof(__u64) + done, (const void *)(src + done), n)) {
			*flags |= VIGIL_ARG_ERROR;
			break;
		}
		done += n > VIGIL_ARG_BYTES_MAX ? VIGIL_ARG_BYTES_MAX : n;
	}
	return sizeof(__u64) + done;
}

struct iovec_ctx {
	__u64 iov;   /* struct iovec * */
	__u64 total; /* the sizes of the entries read */
	__u32 pos;   /* where the bytes go in data */
	__u32 limit; /* bytes to copy at most */
	__u32 done;
	__u8 flags;
};

static long iovec_step(__u32 i, void *ctx)
{
	struct iovec_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();
	const struct iovec *src = (const struct iovec *)c->iov + i;
	struct iovec v = {};
	__u64 n;

	if (!s)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), src) && bpf_probe_read_kernel(&v, sizeof(v), src)) {
		c->flags |= VIGIL_ARG_ERROR;
		return 1;
	}
	c->total += v.iov_len;
	n = c->limit - c->done;
	if (n > v.iov_len)
		n = v.iov_len;
	if (n > VIGIL_ARG_BYTES_MAX)
		n = VIGIL_ARG_BYTES_MAX;
	if (n && !buf_chunk(s, c->pos + c->done, v.iov_base, n)) {
		c->flags |= VIGIL_ARG_ERROR;
		return 1;
	}
	c->done += n;
	return 0;
}

/* char_iovec: the entries' total size, then their bytes back to back, up to the limit
 * (returnCopy: up to the return value, what readv filled); returns the bytes used. */
static __noinline __u32 put_char_iovec(struct vigil_generic_scratch *s, __u32 k, __u64 iov, __u32 pos, __u32 room)
{
	const volatile struct vigil_arg_config *a;
	struct iovec_ctx c = { .iov = iov, .pos = pos + sizeof(__u64) };
	__s64 count, ret;
	__u8 flags = 0;

	if (k >= VIGIL_HOOK_ARGS_MAX)
		return 0;
	a = &vigil_hook.args[k];
	if (room < sizeof(__u64) || !a->size_arg) {
		s->msg.arg_flags[k] = room < sizeof(__u64) ? VIGIL_ARG_TRUNCATED : VIGIL_ARG_ERROR;
		return 0;
	}
	count = (__s64)s->raw[(a->size_arg - 1) & (VIGIL_HOOK_ARGS_MAX - 1)];
	c.limit = buf_limit(a, room - sizeof(__u64));
	if (a->flags & VIGIL_SRC_RETURN_COPY) {
		ret = (__s64)s->raw[vigil_hook.nargs & (VIGIL_HOOK_ARGS_MAX - 1)];
		if (ret < 0)
			count = 0;
		else if ((__u64)ret < c.limit)
			c.limit = ret;
	}
	if (count < 0)
		count = 0;
	if (count > IOVEC_MAX)
		flags |= VIGIL_ARG_TRUNCATED;
	bpf_loop(count > IOVEC_MAX ? IOVEC_MAX : count, iovec_step, &c, 0);
	if (c.done < c.total)
		flags |= VIGIL_ARG_TRUNCATED;
	put_u64(s, pos, c.total);
	s->msg.arg_flags[k] = flags | c.flags;
	return sizeof(__u64) + c.done;
}

#endif
