// The mechanism table (policies/compiler/mechanism.ts): the choice per
// hook, from a kernel described as data.
import t from 'tap';
import { chooseMechanism, MECHANISMS } from '../../policies/compiler/mechanism.js';
import { syscallName } from '../../kernel/syscalls/names.js';
import type { KernelFacts } from '../../kernel/facts.js';
import { describedKernel, FEATURE_IDS, HOST_LIKE, STOCK_LIKE } from '../lib/described-kernel.js';
import type { HookPlan, SelectorPlan } from '../../policies/compiler/plan.js';

const ALL = FEATURE_IDS;
const features = describedKernel;
const HOST = HOST_LIKE;
const STOCK = STOCK_LIKE;
const arm64 = (k: KernelFacts): KernelFacts => ({ ...k, arch: 'arm64' });

const selector = (action: 'Sigkill' | 'Override' | 'Post'): SelectorPlan => ({
  matchArgs: [], matchPIDs: [], matchBinaries: [],
  matchActions: [action === 'Override' ? { action, argError: -1 } : { action }],
});
const kprobe = (fn: string, syscall: boolean, selectors: SelectorPlan[] = []): HookPlan => ({
  policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: fn }, syscall, args: [], selectors,
});

t.test('syscall names are accepted as Tetragon writes them', async (t) => {
  for (const n of ['sys_openat', '__x64_sys_openat', 'openat']) t.same(syscallName(n, 'x64'), { name: 'openat', function: '__x64_sys_openat' }, n);
  t.same(syscallName('sys_execve', 'arm64'), { name: 'execve', function: '__arm64_sys_execve' });
  t.throws(() => syscallName('__arm64_sys_openat', 'x64'), { code: 'VIGIL_POLICY_INVALID' });
  t.throws(() => syscallName('__x64_openat', 'x64'), { code: 'VIGIL_POLICY_INVALID' });
});

t.test('a syscall kprobe runs as a kprobe when the kernel has kprobes', async (t) => {
  t.match(chooseMechanism(kprobe('sys_openat', true), STOCK), {
    mechanism: 'kprobe', target: { function: '__x64_sys_openat' }, syscall: true, functionName: '__x64_sys_openat', features: ['kprobes'],
  });
});

t.test('without kprobes or fentry a syscall kprobe goes on its sys_enter tracepoint, and says why', async (t) => {
  const c = chooseMechanism(kprobe('__x64_sys_openat', true), features(['tracepoints', 'tp_btf']));
  t.match(c, { mechanism: 'tracepoint', target: { subsystem: 'syscalls', event: 'sys_enter_openat' }, syscall: true, functionName: '__x64_sys_openat' });
  t.match(c.reason, /passed over kprobe: this kernel has no kprobes \(vigil probe\); fentry: this kernel has no fentry \(vigil probe\)/);
  t.notMatch(c.reason, /security_file_open/, "the reason speaks of the hook's kernel, not of the probe's own attempt");
});

t.test('without syscall tracepoints either, it goes through the sys_enter dispatcher, by syscall number', async (t) => {
  const c = chooseMechanism(kprobe('sys_openat', true), features(['tp_btf']));
  t.match(c, { mechanism: 'syscall_dispatch', target: { subsystem: 'raw_syscalls', event: 'sys_enter' }, syscall: true, syscallNr: 257, functionName: '__x64_sys_openat', features: ['tp_btf'] });
  t.match(c.reason, /kprobe: this kernel has no kprobes .*; fentry: this kernel has no fentry .*; tracepoint: this kernel has no tracepoints/);
  t.match(chooseMechanism(kprobe('sys_execve', true), features(['tp_btf'])), { syscallNr: 59 });
  t.throws(() => chooseMechanism(kprobe('sys_openat', true), arm64(features(['tp_btf']))), { code: 'VIGIL_NOT_SUPPORTED' }, 'the dispatcher knows x86-64 numbers only');
  const missing = chooseMechanism(kprobe('sys_openat', true), features(['tracepoints', 'tp_btf'], { noTracepoints: ['sys_enter_openat'] }));
  t.match(missing, { mechanism: 'syscall_dispatch' }, 'a syscall without its own tracepoint goes to the dispatcher');
  t.match(missing.reason, /tracepoint: this kernel has no tracepoint syscalls\/sys_enter_openat/);
});

t.test('fentry is next after kprobes', async (t) => {
  t.match(chooseMechanism(kprobe('security_file_open', false), features(['fentry', 'tracepoints'])), { mechanism: 'fentry', target: { function: 'security_file_open' } });
});

t.test('a non-syscall kprobe without kprobes or fentry is refused', async (t) => {
  t.throws(() => chooseMechanism(kprobe('security_file_open', false), HOST), { code: 'VIGIL_NOT_SUPPORTED', message: /kprobes/ });
});

t.test('Override on a kprobe needs fmod_ret, and is refused rather than weakened', async (t) => {
  t.match(chooseMechanism(kprobe('security_file_open', false, [selector('Override')]), STOCK), { mechanism: 'fmod_ret', enforcement: ['post', 'signal', 'override'] });
  t.throws(() => chooseMechanism(kprobe('sys_openat', true, [selector('Override')]), HOST), { code: 'VIGIL_NOT_SUPPORTED', message: /fmod_ret/ });
  const notInjectable = features(ALL, { modifiableReturn: () => false });
  t.throws(() => chooseMechanism(kprobe('vfs_open', false, [selector('Override')]), notInjectable), { message: /not on the error-injection list\); deny at the LSM hook the call reaches instead/ },
    'a function the kernel does not let fmod_ret change is refused before anything loads');
});

t.test('Sigkill needs bpf_send_signal', async (t) => {
  t.match(chooseMechanism(kprobe('sys_kill', true, [selector('Sigkill')]), HOST), { mechanism: 'tracepoint', features: ['tracepoints', 'bpf_send_signal'] });
  t.match(chooseMechanism(kprobe('sys_execve', true, [selector('Sigkill')]), HOST), { mechanism: 'exec', features: ['tp_btf', 'bpf_send_signal'] });
  t.throws(() => chooseMechanism(kprobe('sys_execve', true, [selector('Sigkill')]), features(['tracepoints'])), { code: 'VIGIL_NOT_SUPPORTED', message: /bpf_send_signal/ });
});

t.test('LSM hooks need BPF LSM; Override on a tracepoint is refused', async (t) => {
  const lsm: HookPlan = { policyName: 'p', hookIndex: 0, kind: 'lsm', target: { hook: 'file_open' }, syscall: false, args: [], selectors: [selector('Override')] };
  t.match(chooseMechanism(lsm, STOCK), { mechanism: 'lsm', target: { hook: 'file_open' }, attach: 'trampoline' });
  t.throws(() => chooseMechanism(lsm, HOST), { code: 'VIGIL_NOT_SUPPORTED', message: /bpf_lsm/ });
  const tp: HookPlan = { policyName: 'p', hookIndex: 0, kind: 'tracepoint', target: { subsystem: 'syscalls', event: 'sys_enter_openat' }, syscall: false, args: [], selectors: [selector('Override')] };
  t.throws(() => chooseMechanism(tp, STOCK), { code: 'VIGIL_NOT_SUPPORTED' });
});

t.test('return probes: kretprobe, then fexit, then the sys_enter/sys_exit tracepoint pair', async (t) => {
  const ret = (fn: string, syscall: boolean): HookPlan => ({ ...kprobe(fn, syscall), returnArg: { index: 0, type: 'int' } });
  t.match(chooseMechanism(ret('sys_openat', true), STOCK), { mechanism: 'kretprobe', entry: { function: '__x64_sys_openat' }, entryProgram: 'vigil_generic_kretprobe_entry' });
  t.match(chooseMechanism(ret('sys_openat', true), features(['fexit', 'tracepoints'])), { mechanism: 'fexit', attach: 'trampoline' });
  t.match(chooseMechanism(ret('sys_openat', true), HOST), {
    mechanism: 'tracepoint', target: { event: 'sys_exit_openat' }, entry: { event: 'sys_enter_openat' }, object: 'generic_tracepoint_exit',
  });
  t.throws(() => chooseMechanism(ret('do_sys_openat2', false), HOST), { code: 'VIGIL_NOT_SUPPORTED', message: /kretprobes or fexit/ });
});

t.test('Override on a return probe runs at entry: fexit with fmod_ret at entry, else refused', async (t) => {
  const ret = (fn: string, syscall: boolean): HookPlan => ({ ...kprobe(fn, syscall, [selector('Override')]), returnArg: { index: 0, type: 'int' } });
  t.match(chooseMechanism(ret('sys_openat', true), STOCK), {
    mechanism: 'fexit', entryProgram: 'vigil_generic_fexit_fmod_ret', entry: { function: '__x64_sys_openat' }, enforcement: ['post', 'signal', 'override'],
  });
  t.throws(() => chooseMechanism(ret('sys_openat', true), features(['fmod_ret', 'tracepoints'])), { code: 'VIGIL_NOT_SUPPORTED', message: /fexit: this kernel has no fexit/ });
  t.throws(() => chooseMechanism(ret('sys_openat', true), HOST), { code: 'VIGIL_NOT_SUPPORTED', message: /has an Override action, which needs fmod_ret and fexit on __x64_sys_openat/ });
});

t.test('a connect deny on destinations goes to the cgroup programs when the kernel has them, else fmod_ret', async (t) => {
  const deny = kprobe('tcp_connect', false, [selector('Override')]);
  const c = chooseMechanism(deny, HOST, true);
  t.match(c, { mechanism: 'cgroup_connect', target: { cgroup: '/sys/fs/cgroup' }, attach: 'cgroup', enforcement: ['override'], features: ['cgroup_hooks'] });
  t.match(chooseMechanism(deny, features(['fmod_ret', 'bpf_send_signal']), true), { mechanism: 'fmod_ret' }, 'without cgroup hooks, fmod_ret');
  t.throws(() => chooseMechanism(deny, features(['tracepoints']), true), { code: 'VIGIL_NOT_SUPPORTED', message: /cgroup_connect: this kernel has no cgroup_hooks/ });
  t.match(chooseMechanism(deny, STOCK, false), { mechanism: 'fmod_ret' }, 'selectors the cgroup programs cannot express go to fmod_ret');
});

t.test('every row names a feature the probe knows, a program, and what it enforces', async (t) => {
  const { FEATURES } = await import('../../kernel/features.js');
  for (const row of MECHANISMS) {
    t.ok(FEATURES.some((f) => f.id === row.feature), `${row.mechanism}: ${row.feature} is probed`);
    t.ok(row.program && row.object, `${row.mechanism}: its program`);
    t.ok(row.enforcement.length, `${row.mechanism}: its enforcement`);
  }
});

/** An exec hook as the library writes it: the filename, Prefix, and the given actions. */
const exec = (call: string, actions: SelectorPlan['matchActions'], more: Partial<SelectorPlan> = {}, args?: HookPlan['args']): HookPlan => {
  const index = /execveat/.test(call) ? 1 : 0;
  return {
    ...kprobe(call, true, [{ ...selector('Post'), matchArgs: [{ index, operator: 'Prefix', values: ['/tmp/'] }], matchActions: actions, ...more }]),
    args: args ?? [{ index, type: 'string' }],
  };
};
const SIGKILL: SelectorPlan['matchActions'] = [{ action: 'Sigkill' }];

t.test('an exec hook that kills is judged by the executed file: security_bprm_check where kprobes or fentry are', async (t) => {
  const c = chooseMechanism(exec('sys_execve', SIGKILL), STOCK);
  t.match(c, {
    mechanism: 'exec_kprobe', target: { function: 'security_bprm_check' }, attach: 'kprobe', execFile: 'binprm', syscall: false,
    functionName: '__x64_sys_execve', object: 'generic_kprobe', features: ['kprobes', 'bpf_send_signal'],
  });
  t.match(c.reason, /^__x64_sys_execve judged by the file the kernel executes.*kprobe on security_bprm_check, for each file of the exec/);
  t.match(chooseMechanism(exec('sys_execve', SIGKILL), features(['fentry', 'tp_btf', 'tracepoints', 'bpf_send_signal'])), {
    mechanism: 'exec_fentry', target: { function: 'security_bprm_check' }, attach: 'trampoline', execFile: 'binprm', object: 'generic_fentry',
  });
});

t.test('without kprobes or fentry, at tp_btf/sched_process_exec, and the reason says why', async (t) => {
  const c = chooseMechanism(exec('sys_execve', SIGKILL), HOST);
  t.match(c, {
    mechanism: 'exec', target: { subsystem: 'sched', event: 'sched_process_exec' }, attach: 'tp_btf', execFile: 'path', syscall: false,
    object: 'generic_exec', program: 'vigil_generic_exec', functionName: '__x64_sys_execve', enforcement: ['post', 'signal'],
  });
  t.match(c.reason, /judged by the file the kernel executes.*tp_btf\/sched_process_exec.*\(passed over exec_kprobe: this kernel has no kprobes \(vigil probe\); exec_fentry: this kernel has no fentry \(vigil probe\)\)$/);
});

t.test('every spelling of execve and execveat, with Sigkill or Signal', async (t) => {
  for (const call of ['sys_execve', '__x64_sys_execve', 'execve', 'sys_execveat', '__x64_sys_execveat', 'execveat']) {
    t.match(chooseMechanism(exec(call, SIGKILL), HOST), { mechanism: 'exec' }, call);
    t.match(chooseMechanism(exec(call, SIGKILL), STOCK), { mechanism: 'exec_kprobe' }, call);
  }
  t.match(chooseMechanism(exec('execve', [{ action: 'Signal', argSig: 10 }]), HOST), { mechanism: 'exec' }, 'Signal');
  t.match(chooseMechanism(exec('sys_execve', SIGKILL), features(['tracepoints', 'bpf_send_signal'])), { mechanism: 'tracepoint' }, 'without tp_btf, the syscall string');
});

t.test('exec hooks that only post keep the syscall view, the string as passed, and say so', async (t) => {
  const host = chooseMechanism(exec('sys_execve', [{ action: 'Post' }]), HOST);
  t.match(host, { mechanism: 'tracepoint', target: { event: 'sys_enter_execve' }, syscall: true });
  t.notOk(host.execFile);
  t.match(host.reason, /passed over exec_kprobe, exec_fentry, exec: the hook neither kills nor signals, so it keeps the syscall's view: the filename string as the caller passed it, failed execs included; kprobe: this kernel has no kprobes/);
  t.match(chooseMechanism(exec('sys_execve', [{ action: 'Post' }]), STOCK), { mechanism: 'kprobe', target: { function: '__x64_sys_execve' } });
  t.match(chooseMechanism({ ...kprobe('sys_execve', true), args: [{ index: 0, type: 'string' }] }, HOST), { mechanism: 'tracepoint' }, 'no selectors: every call posted');
});

t.test('exec hooks that read more than the filename keep the syscall view', async (t) => {
  const argv = chooseMechanism(exec('sys_execve', SIGKILL, {}, [{ index: 0, type: 'string' }, { index: 1, type: 'uint64' }]), HOST);
  t.match(argv, { mechanism: 'tracepoint' });
  t.match(argv.reason, /exec_kprobe, exec_fentry, exec: it reads arg 1, and only the filename \(arg 0\) is known where the executed file is/);
  t.match(chooseMechanism(exec('sys_execveat', SIGKILL, {}, [{ index: 0, type: 'int' }, { index: 1, type: 'string' }]), HOST).reason, /it reads arg 0, and only the filename \(arg 1\)/);
  t.match(chooseMechanism(exec('sys_execve', SIGKILL, {}, [{ index: 0, type: 'uint64' }]), HOST).reason, /the filename is declared uint64, not string/);
});

t.test('at sched_process_exec, caller filters are refused; pid, namespace and parent filters are kept', async (t) => {
  const bins = exec('sys_execve', SIGKILL, { matchBinaries: [{ operator: 'In', values: ['/bin/sh'] }] });
  t.match(chooseMechanism(bins, STOCK), { mechanism: 'exec_kprobe' }, 'security_bprm_check runs before the new image: the caller is still there');
  const host = chooseMechanism(bins, HOST);
  t.match(host, { mechanism: 'tracepoint' });
  t.match(host.reason, /exec: matchBinaries describes the caller, and at sched_process_exec the process already is the new image/);
  const caps = exec('sys_execve', SIGKILL, { matchCapabilities: [{ type: 'Effective', operator: 'In', values: ['CAP_SYS_ADMIN'], isNamespaceCapability: false }] });
  t.match(chooseMechanism(caps, HOST), { mechanism: 'tracepoint' });
  const kept = exec('sys_execve', SIGKILL, {
    matchPIDs: [{ operator: 'NotIn', values: [1], followForks: true, isNamespacePID: false }],
    matchParentBinaries: [{ operator: 'In', values: ['/bin/sh'] }],
    matchNamespaces: [{ namespace: 'Mnt', operator: 'In', values: ['host_ns'] }],
  });
  t.match(chooseMechanism(kept, HOST), { mechanism: 'exec' });
});

t.test('other hooks never hear of the exec rows', async (t) => {
  t.notMatch(chooseMechanism(kprobe('sys_openat', true, [selector('Sigkill')]), HOST).reason, /exec/);
  t.notMatch(chooseMechanism(kprobe('sys_openat', true), features(['tp_btf'])).reason, /exec/);
  t.throws(() => chooseMechanism(kprobe('security_file_open', false), HOST), { message: /: kprobe:security_file_open needs kprobes or fentry; kprobe: this kernel has no kprobes \(vigil probe\); fentry: this kernel has no fentry \(vigil probe\)$/ });
});
