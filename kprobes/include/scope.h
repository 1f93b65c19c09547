/* The scope of a policy limited to pods (TracingPolicyNamespaced,
 * podSelector, containerSelector): the cgroup v2 ids of the pods or
 * containers it selects, in one hash map per policy. The agent creates the
 * map once and hands it to each of the policy's objects before load
 * (agent/scope/), and adds and removes ids as Kubernetes reports pods.
 *
 *   the task's cgroup v2 ancestors, from level 1 (the root, level 0, is
 *   never a scope) down to its own cgroup, at most VIGIL_SCOPE_LEVELS deep:
 *     one of them in the map   -> in scope
 *     none                     -> out of scope: the hook does nothing
 *
 * So a pod's cgroup covers every container below it, and every cgroup a
 * container makes below its own. An empty map is a scope not known yet:
 * nothing is in it. Plain helpers only (bpf_get_current_ancestor_cgroup_id
 * reads the cgroup's own table of ancestors), so tracing programs and
 * cgroup socket programs share it.
 */
#ifndef VIGIL_SCOPE_H
#define VIGIL_SCOPE_H

#include "generic_config.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_SCOPE_CGROUPS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);  /* cgroup v2 id: the inode number of its directory */
	__type(value, __u8); /* 1 */
} vigil_scope SEC(".maps");

/* Whether the current task's cgroup, or one of its ancestors, is in vigil_scope. */
static __always_inline bool vigil_cgroup_in_scope(void)
{
#pragma unroll
	for (int level = 1; level <= VIGIL_SCOPE_LEVELS; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		/* 0: the task's cgroup is above this level */
		if (!id)
			return false;
		if (bpf_map_lookup_elem(&vigil_scope, &id))
			return true;
	}
	return false;
}

#endif
