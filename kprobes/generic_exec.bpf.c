// SPDX-License-Identifier: GPL-2.0
/* Generic hook on an exec, judged by the file the kernel executes rather
 * than the string its caller passed: exec enforcement hooks (Sigkill or
 * Signal on execve or execveat, filtering the filename only) on kernels
 * where neither a kprobe nor fentry can sit on security_bprm_check.
 *
 * tp_btf/sched_process_exec fires for every exec that succeeds, whatever
 * its entry (execve, execveat, the 32-bit int 0x80 and compat syscalls, the
 * kernel's own), after the point of no return and before the new image
 * runs an instruction: a signal sent here is taken first.
 *
 *   vigil_in_scope(): a scoped hook on a task outside its scope: done
 *   every arg (each is the exec's filename) -> the executed file's
 *     absolute path (exec_file.h), or NULL: cannot be told
 *   vigil_generic_run(): filter, read, act (signals), emit
 *   an interpreter took over (#!, binfmt_misc): again, on the script's
 *     path as the kernel was given it
 *
 * The process filters see the new image (the process sensor ran first):
 * the mechanism table sends hooks with caller filters (matchBinaries,
 * capabilities) elsewhere. The record's process is the new image.
 */
#include "api.h"
#include "generic.h"
#include "exec_file.h"

char LICENSE[] SEC("license") = "GPL";

/* Runs the pipeline with every arg the NUL-terminated path (NULL: unknown). */
static __always_inline void judge(const char *path)
{
	__u64 raw[VIGIL_HOOK_ARGS_MAX] = {};

#pragma unroll
	for (int k = 0; k < VIGIL_HOOK_ARGS_MAX; k++)
		if (k < vigil_hook.nargs)
			raw[k] = (__u64)path;
	vigil_generic_run(raw);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_generic_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!vigil_in_scope())
		return 0;
	judge(exec_file_path(bprm));
	if (exec_interpreted(bprm))
		judge(exec_script_path(bprm));
	return 0;
}
