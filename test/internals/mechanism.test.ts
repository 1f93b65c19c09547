// The mechanism choice per hook, from probed features, as data.
import t from 'tap';
import { chooseMechanism } from '../../policies/compiler/mechanism.js';
import { syscallName } from '../../policies/compiler/syscall-names.js';
import type { HookPlan, SelectorPlan } from '../../policies/compiler/plan.js';

const ALL = ['tracepoints', 'tp_btf', 'kprobes', 'fentry', 'fmod_ret', 'bpf_lsm', 'bpf_send_signal'];
const features = (works: string[]) => ALL.map((f) => ({ feature: f, works: works.includes(f), reason: works.includes(f) ? undefined : 'load failed: EPERM' }));
const HOST = features(['tracepoints', 'bpf_send_signal']);
const STOCK = features(ALL);

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
  t.match(chooseMechanism(kprobe('sys_openat', true), STOCK, 'x64'), {
    mechanism: 'kprobe', target: { function: '__x64_sys_openat' }, syscall: true, functionName: '__x64_sys_openat', features: ['kprobes'],
  });
});

t.test('without kprobes or fentry a syscall kprobe goes on its sys_enter tracepoint, and says why', async (t) => {
  const c = chooseMechanism(kprobe('__x64_sys_openat', true), features(['tracepoints', 'tp_btf']), 'x64');
  t.match(c, { mechanism: 'tracepoint', target: { subsystem: 'syscalls', event: 'sys_enter_openat' }, syscall: true, functionName: '__x64_sys_openat' });
  t.match(c.reason, /kprobes: load failed: EPERM; fentry: load failed: EPERM/);
});

t.test('without syscall tracepoints either, it goes through the sys_enter dispatcher, by syscall number', async (t) => {
  const c = chooseMechanism(kprobe('sys_openat', true), features(['tp_btf']), 'x64');
  t.match(c, { mechanism: 'syscall_dispatch', target: { subsystem: 'raw_syscalls', event: 'sys_enter' }, syscall: true, syscallNr: 257, functionName: '__x64_sys_openat', features: ['tp_btf'] });
  t.match(c.reason, /kprobes: load failed: EPERM; fentry: load failed: EPERM; tracepoints: load failed: EPERM/);
  t.match(chooseMechanism(kprobe('sys_execve', true), features(['tp_btf']), 'x64'), { syscallNr: 59 });
  t.throws(() => chooseMechanism(kprobe('sys_openat', true), features(['tp_btf']), 'arm64'), { code: 'VIGIL_NOT_SUPPORTED' }, 'the dispatcher knows x86-64 numbers only');
});

t.test('fentry is next after kprobes', async (t) => {
  t.match(chooseMechanism(kprobe('security_file_open', false), features(['fentry', 'tracepoints']), 'x64'), { mechanism: 'fentry', target: { function: 'security_file_open' } });
});

t.test('a non-syscall kprobe without kprobes or fentry is refused', async (t) => {
  t.throws(() => chooseMechanism(kprobe('security_file_open', false), HOST, 'x64'), { code: 'VIGIL_NOT_SUPPORTED', message: /kprobes/ });
});

t.test('Override on a kprobe needs fmod_ret, and is refused rather than weakened', async (t) => {
  t.match(chooseMechanism(kprobe('security_file_open', false, [selector('Override')]), STOCK, 'x64'), { mechanism: 'fmod_ret' });
  t.throws(() => chooseMechanism(kprobe('sys_openat', true, [selector('Override')]), HOST, 'x64'), { code: 'VIGIL_NOT_SUPPORTED', message: /fmod_ret/ });
});

t.test('Sigkill needs bpf_send_signal', async (t) => {
  t.match(chooseMechanism(kprobe('sys_execve', true, [selector('Sigkill')]), HOST, 'x64'), { mechanism: 'tracepoint', features: ['tracepoints', 'bpf_send_signal'] });
  t.throws(() => chooseMechanism(kprobe('sys_execve', true, [selector('Sigkill')]), features(['tracepoints']), 'x64'), { code: 'VIGIL_NOT_SUPPORTED', message: /bpf_send_signal/ });
});

t.test('LSM hooks need BPF LSM; Override on a tracepoint is refused', async (t) => {
  const lsm: HookPlan = { policyName: 'p', hookIndex: 0, kind: 'lsm', target: { hook: 'file_open' }, syscall: false, args: [], selectors: [selector('Override')] };
  t.match(chooseMechanism(lsm, STOCK, 'x64'), { mechanism: 'lsm', target: { hook: 'file_open' } });
  t.throws(() => chooseMechanism(lsm, HOST, 'x64'), { code: 'VIGIL_NOT_SUPPORTED', message: /bpf_lsm/ });
  const tp: HookPlan = { policyName: 'p', hookIndex: 0, kind: 'tracepoint', target: { subsystem: 'syscalls', event: 'sys_enter_openat' }, syscall: false, args: [], selectors: [selector('Override')] };
  t.throws(() => chooseMechanism(tp, STOCK, 'x64'), { code: 'VIGIL_NOT_SUPPORTED' });
});
