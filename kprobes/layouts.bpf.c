// SPDX-License-Identifier: GPL-2.0
/* Carries the BTF of every record and enum in events.h and
 * generic_config.h, so the agent's
 * layouts (agent/events/layouts.generated.ts) are generated from, and
 * checked against, what clang compiled. Never loaded. */
#include "api.h"
#include "events.h"
#include "output.h"
#include "generic_config.h"

struct vigil_layouts {
	struct vigil_msg_header header;
	struct vigil_process_id process_id;
	struct vigil_creds creds;
	struct vigil_caps caps;
	struct vigil_msg_exec exec;
	struct vigil_msg_clone clone;
	struct vigil_msg_exit exit;
	struct vigil_process_entry process_entry;
	struct vigil_binary binary;
	struct vigil_msg_generic generic;
	struct vigil_cred_arg cred_arg;
	struct vigil_userns userns;
	struct vigil_bpf_prog_arg bpf_prog_arg;
	struct vigil_bpf_map_arg bpf_map_arg;
	struct vigil_perf_event_arg perf_event_arg;
	struct vigil_module_arg module_arg;
	struct vigil_counter counter;
	struct vigil_hook_config hook_config;
	struct vigil_int_key int_key;
	struct vigil_string_key string_key;
	struct vigil_lpm_key lpm_key;
	struct vigil_substr_set substr_set;
	struct vigil_net_arg net_arg;
	struct vigil_net_key net_key;
	enum vigil_op op;
	enum vigil_process_flag flag;
	enum vigil_limits limits;
	enum vigil_action action;
	enum vigil_arg_flag arg_flag;
	enum vigil_config_limits config_limits;
	enum vigil_arg_kind arg_kind;
	enum vigil_arg_source_flag arg_source_flag;
	enum vigil_filter_op filter_op;
	enum vigil_pid_flag pid_flag;
	enum vigil_bin_flag bin_flag;
	enum vigil_ns_type ns_type;
	enum vigil_exec_secure exec_secure;
	enum vigil_cap_set cap_set;
	enum vigil_cap_flag cap_flag;
	enum vigil_rate_scope rate_scope;
	enum vigil_net_key_kind net_key_kind;
	enum vigil_net_key_limits net_key_limits;
	enum vigil_module_flag module_flag;
};

struct vigil_layouts vigil_layouts_anchor SEC(".data.layouts");

char LICENSE[] SEC("license") = "GPL";
