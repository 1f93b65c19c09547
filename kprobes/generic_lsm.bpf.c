// SPDX-License-Identifier: GPL-2.0
/* Generic hook on an LSM hook (BPF LSM). The hook is set before load
 * (bpf_program__set_attach_target).
 *
 *   vigil_in_scope():        a scoped hook on a task outside its scope: no verdict of its own
 *   fetch_trampoline_args(): bpf_get_func_arg(index) (an LSM hook is never a syscall)
 *   vigil_generic_run(): filter, read, act, emit
 *   return: an earlier BPF LSM program's denial, else Override's argError, else 0
 */
#include "api.h"
#include "generic_fetch.h"
#include "generic.h"

char LICENSE[] SEC("license") = "GPL";

SEC("lsm")
int vigil_generic_lsm(__u64 *ctx)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};
	__u64 nr = bpf_get_func_arg_cnt(ctx);
	__u64 prior = 0;
	long ret = 0;

	if (vigil_in_scope()) {
		fetch_trampoline_args(ctx, raw);
		ret = vigil_generic_run(raw);
	}
	/* The hook's return so far sits after its arguments. */
	bpf_probe_read_kernel(&prior, sizeof(prior), &ctx[nr & 15]);
	if ((int)prior < 0 && (int)prior >= -4095)
		return (int)prior;
	/* 0 or a negative errno (the encoder checks argError); bounded for the verifier. */
	return ret < -4095 || ret > 0 ? 0 : ret;
}
