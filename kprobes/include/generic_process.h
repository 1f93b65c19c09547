/* The process stage of the generic pipeline: which selectors' process
 * filters (matchPIDs, matchBinaries, matchParentBinaries,
 * matchCapabilities, matchNamespaces and their changes since exec) pass
 * for the current task. Shared by generic.h and the cgroup connect
 * programs (cgroup_connect.bpf.c), which read the same vigil_hook config. */
#ifndef VIGIL_GENERIC_PROCESS_H
#define VIGIL_GENERIC_PROCESS_H

#include "process_map.h"
#include "generic_state.h"
#include "generic_filter.h"

struct select_ctx {
	__u32 tgid;
	vigil_selmask_t pass; /* selectors whose process filters pass, one bit each */
	__s32 matched; /* the first selector whose args pass too; -1: none */
};

static long process_step(__u32 i, void *ctx)
{
	struct select_ctx *c = ctx;
	struct vigil_generic_scratch *s = generic_scratch();

	if (!s || i >= VIGIL_SELECTORS_MAX)
		return 1;
	if (process_ok(s, i, c->tgid))
		c->pass |= SEL_BIT(i);
	return 0;
}

/* Does any selector filter on the process? Read from rodata, so the
 * verifier resolves it and drops the code a hook does not need. */
static __always_inline bool has_process_filters(void)
{
	bool has = false;

#pragma unroll
	for (int i = 0; i < VIGIL_SELECTORS_MAX; i++)
		if (i < vigil_hook.nselectors &&
		    (vigil_hook.selectors[i].npids || vigil_hook.selectors[i].nbins || vigil_hook.selectors[i].ncaps ||
		     vigil_hook.selectors[i].ns_in || vigil_hook.selectors[i].ns_notin || vigil_hook.selectors[i].ns_changes))
			has = true;
	return has;
}

/* The selectors whose process filters pass, one bit each. */
static __always_inline vigil_selmask_t process_pass(struct vigil_generic_scratch *s, struct select_ctx *c)
{
	if (!has_process_filters())
		return ~0ull;
	load_binaries(s, c->tgid);
	if (needs_task_state())
		load_task_state(s);
	bpf_loop(vigil_hook.nselectors, process_step, c, 0);
	return c->pass;
}

#endif
