/* SubString and SubStringIgnCase: does one of a filter's values occur
 * anywhere in an arg's bytes?
 *
 *   the filter's set (vigil_str_sub, under its id) -> scratch, one copy
 *   bpf_loop over the start positions p of the arg:
 *     each value that fits at p: its words against the arg's 8-byte
 *     loads at p, masked (the last word holds its tail), the loads
 *     folded to lowercase for IgnCase (its values are lowercase)
 *
 * A call costs one lookup, one copy and about len * values word
 * compares; hooks without these filters never run it (the op is rodata).
 * Bytes past the arg's end are never compared: a value fits at p only if
 * p + its length <= the arg's length.
 */
#ifndef VIGIL_GENERIC_SUBSTR_H
#define VIGIL_GENERIC_SUBSTR_H

#include "generic_state.h"
#include "generic_values.h"

struct substr_ctx {
	__u32 off;  /* the arg's bytes start at data[off] */
	__u32 len;  /* and are len long */
	__u32 n;    /* values in s->sub */
	__u8 icase;
	__u8 hit;
};

/* ASCII A-Z to a-z in each byte of x; other bytes unchanged. */
static __always_inline __u64 fold_lower(__u64 x)
{
	__u64 low7 = x & 0x7f7f7f7f7f7f7f7full;
	__u64 ge_a = low7 + 0x3f3f3f3f3f3f3f3full; /* high bit: byte >= 'A' */
	__u64 gt_z = low7 + 0x2525252525252525ull; /* high bit: byte > 'Z' */
	__u64 upper = ge_a & ~gt_z & ~x & 0x8080808080808080ull;

	return x | (upper >> 2);
}

/* Does a value start at data[off + p]? */
static long substr_step(__u32 p, void *ctx)
{
	struct substr_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();
	__u64 at = c->off + p;

	/* Keep the bound check on the register the loads use: the arg is in
	 * the args' region, and data holds more than 32 bytes past it. */
	asm volatile("" : "+r"(at));
	if (!s || at >= ARGS_DATA_MAX)
		return 1;
#pragma unroll
	for (int v = 0; v < VIGIL_SUBSTR_VALUES_MAX; v++) {
		bool eq = true;

		if (v >= c->n)
			break;
		if (p + s->sub.len[v] > c->len)
			continue;
#pragma unroll
		for (int w = 0; w < VIGIL_SUBSTR_WORDS; w++) {
			__u64 x = *(const __u64 *)&s->data[at + 8 * w];

			if (c->icase)
				x = fold_lower(x);
			if ((x & s->sub.masks[v][w]) != s->sub.words[v][w]) {
				eq = false;
				break;
			}
		}
		if (eq) {
			c->hit = 1;
			return 1;
		}
	}
	return 0;
}

/* Does one of filter id's values occur in the len bytes at data[off]? */
static __noinline bool str_substr(struct vigil_generic_scratch *s, __u16 id, __u32 off, __u32 len, bool icase)
{
	struct substr_ctx c = { .off = off, .len = len, .icase = icase };
	struct vigil_substr_set *set;
	__u32 key = id;

	set = bpf_map_lookup_elem(&vigil_str_sub, &key);
	if (!set || off >= ARGS_DATA_MAX)
		return false;
	bpf_probe_read_kernel(&s->sub, sizeof(s->sub), set);
	c.n = s->sub.n;
	bpf_loop(len, substr_step, &c, 0);
	return c.hit;
}

#endif
