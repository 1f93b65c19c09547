/* Args the generic hook pipeline could not read: a string or sockaddr in
 * user memory that faults (a page not yet touched), a path longer than
 * the buffer (its beginning lost), a file that is not there. Such an arg
 * is flagged VIGIL_ARG_ERROR, never read as an empty string, and a filter
 * on it cannot decide:
 *
 *   fail-closed hook (spec.options fail-closed), selector that signals
 *   or overrides                                      the filter matches
 *   otherwise                                         the filter does not
 *
 * Either way neither a filter nor its negation matches by accident (an
 * unreadable path is not "NotPrefix /usr/"). Postfix filters on a string
 * cut at VIGIL_ARG_BYTES_MAX cannot decide either: its end is unknown;
 * SubString filters decide only when a value is in what was read.
 * Each call with an unreadable arg counts in its hook's counter slot
 * (struct vigil_counter.undecided), for `vigil policy list`.
 */
#ifndef VIGIL_GENERIC_UNDECIDED_H
#define VIGIL_GENERIC_UNDECIDED_H

#include "generic_state.h"
#include "output.h"

static __always_inline bool is_substr_op(__u8 op)
{
	return op == VIGIL_FOP_SUBSTR || op == VIGIL_FOP_SUBSTR_ICASE;
}

/* Can filter op decide on an arg with these flags? */
static __always_inline bool undecidable(__u8 flags, __u8 op)
{
	if (flags & VIGIL_ARG_ERROR)
		return true;
	return (flags & VIGIL_ARG_TRUNCATED) && (op == VIGIL_FOP_POSTFIX || op == VIGIL_FOP_NOT_POSTFIX);
}

/* What a filter that cannot decide gives, in selector sel. */
static __always_inline bool undecided_match(__u32 sel)
{
	return vigil_hook.fail_closed && selector_at(sel)->act.action != VIGIL_ACTION_POST;
}

static long undecided_step(__u32 m, void *ctx)
{
	if (m >= VIGIL_MEMBERS_MAX)
		return 1;
	vigil_count_undecided(vigil_hook.members[m].slot);
	return 0;
}

/* Counts the call when one of its args could not be read, for each hook
 * of a group. */
static __always_inline void count_undecided(struct vigil_generic_scratch *s)
{
	bool any = false;

#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++)
		if (k < vigil_hook.nargs && (s->msg.arg_flags[k] & VIGIL_ARG_ERROR))
			any = true;
	if (any && vigil_hook.nmembers)
		bpf_loop(vigil_hook.nmembers, undecided_step, NULL, 0);
	else if (any)
		vigil_count_undecided(vigil_hook.slot);
}

#endif
