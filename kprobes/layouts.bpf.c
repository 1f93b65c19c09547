// SPDX-License-Identifier: GPL-2.0
/* Carries the BTF of every record and enum in events.h, so the agent's
 * layouts (agent/events/layouts.generated.ts) are generated from, and
 * checked against, what clang compiled. Never loaded. */
#include "api.h"
#include "events.h"
#include "output.h"

struct vigil_layouts {
	struct vigil_msg_header header;
	struct vigil_process_id process_id;
	struct vigil_creds creds;
	struct vigil_caps caps;
	struct vigil_msg_exec exec;
	struct vigil_msg_clone clone;
	struct vigil_msg_exit exit;
	struct vigil_process_entry process_entry;
	struct vigil_counter counter;
	enum vigil_op op;
	enum vigil_process_flag flag;
	enum vigil_limits limits;
};

struct vigil_layouts vigil_layouts_anchor SEC(".data.layouts");

char LICENSE[] SEC("license") = "GPL";
