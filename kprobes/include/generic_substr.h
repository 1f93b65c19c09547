/* SubString and SubStringIgnCase: does one of a filter's values occur
 * anywhere in an arg's bytes?
 *
 *   the filter's set (vigil_str_sub, under its id) -> scratch, one copy
 *   bpf_loop over the start positions p of the arg, 8 per callback:
 *     the arg's four 8-byte loads at p, folded to lowercase for IgnCase
 *     (its values are lowercase), against each value's words, masked
 *     (the last word holds its tail)
 *
 * A call costs one lookup, one copy and len * values compares of four
 * words. In hooks without these filters (rodata substr 0) the verifier
 * drops the search.
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

#define SUBSTR_STRIDE 8 /* start positions per callback */

/* Does a value start at one of the SUBSTR_STRIDE positions from
 * i * SUBSTR_STRIDE? Each position's four words are loaded (and folded)
 * once, then masked and compared with every value without a branch. */
static long substr_step(__u32 i, void *ctx)
{
	struct substr_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();

	if (!s)
		return 1;
#pragma unroll
	for (int j = 0; j < SUBSTR_STRIDE; j++) {
		__u32 p = i * SUBSTR_STRIDE + j;
		__u64 at = c->off + p, x[VIGIL_SUBSTR_WORDS];

		/* Keep the bound check on the register the loads use: the arg is
		 * in the args' region, and data holds more than 32 bytes past it. */
		asm volatile("" : "+r"(at));
		if (p >= c->len || at >= ARGS_DATA_MAX)
			return 1;
#pragma unroll
		for (int w = 0; w < VIGIL_SUBSTR_WORDS; w++) {
			x[w] = *(const __u64 *)&s->data[at + 8 * w];
			if (c->icase)
				x[w] = fold_lower(x[w]);
		}
#pragma unroll
		for (int v = 0; v < VIGIL_SUBSTR_VALUES_MAX; v++) {
			__u64 diff = 0;

			if (v >= c->n)
				break;
#pragma unroll
			for (int w = 0; w < VIGIL_SUBSTR_WORDS; w++)
				diff |= (x[w] & s->sub.masks[v][w]) ^ s->sub.words[v][w];
			if (!diff && p + s->sub.len[v] <= c->len) {
				c->hit = 1;
				return 1;
			}
		}
	}
	return 0;
}

/* Does one of filter id's values occur in the len bytes at data[off]? A
 * global function: the verifier checks it once, not at each of the up to
 * 256 filters that call it. */
__noinline int vigil_substr(__u16 id, __u32 off, __u32 len, __u8 icase)
{
	struct substr_ctx c = { .off = off, .len = len, .icase = icase };
	struct vigil_generic_scratch *s;
	struct vigil_substr_set *set;
	__u32 key = id;

	if (!vigil_hook.substr)
		return 0;
	s = generic_scratch();
	set = bpf_map_lookup_elem(&vigil_str_sub, &key);
	if (!s || !set || off >= ARGS_DATA_MAX || len > ARGS_DATA_MAX)
		return 0;
	bpf_probe_read_kernel(&s->sub, sizeof(s->sub), set);
	c.n = s->sub.n;
	bpf_loop((len + SUBSTR_STRIDE - 1) / SUBSTR_STRIDE, substr_step, &c, 0);
	return c.hit;
}

#endif
