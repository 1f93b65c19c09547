// A user hooks a syscall's return (`return: true`, Tetragon's returnArg and
// matchReturnArgs) and reads buffers: the return value filters in the
// kernel and is reported as `return`; read(2)'s buffer is copied at return
// (returnCopy), writev(2)'s iovecs at entry, both as bytes_arg. Runs on
// kretprobes, else fexit, else the syscalls/sys_exit_* tracepoint (this
// project's host kernel); the VM runs the others too.
import t from 'tap';
import { writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, suiteFeatures, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';
import type { FeatureResult } from '../kernel/features.js';
import type { HookPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const NODE = realpathSync(process.execPath);
const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);

/** A subtest, as t.test hands it to its callback. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const ours = (policy: string) => (ev: TetragonEvent): boolean => ev.process_kprobe?.policy_name === policy;

function returnPlan(policy: string, plan: Omit<HookPlan, 'policyName' | 'hookIndex' | 'kind' | 'syscall' | 'target'> & { call: string }): HookPlan {
  const { call, ...rest } = plan;
  return { ...syscallPlan(call, [], [], policy), ...rest };
}

/** The features with some hidden, so a lesser mechanism is chosen. */
const without = (hidden: string[]): FeatureResult[] =>
  (suiteFeatures() ?? []).map((f) => (hidden.includes(f.feature) ? { ...f, works: false, reason: 'hidden by the test' } : f));

async function exitOf(p: PolicyAgent, pid: number): Promise<void> {
  await p.waitFor((ev) => ev.process_exit?.process.pid === pid, `exit of ${pid}`);
}

/** openat's return value -2 (ENOENT) posts; a successful open does not. */
async function openatReturns(t: TapTest, p: PolicyAgent, mechanism: string, dir: string): Promise<void> {
  const policy = `openat-return-${mechanism}`;
  const state = p.agent.loadHook(returnPlan(policy, {
    call: 'sys_openat',
    args: [{ index: 1, type: 'string', label: 'path' }],
    returnArg: { index: 0, type: 'int' },
    selectors: [selector({
      matchArgs: [{ index: 1, operator: 'Prefix', values: [`${dir}/`] }],
      matchReturnArgs: [{ index: 0, operator: 'Equal', values: ['-2'] }],
    })],
  }));
  t.teardown(() => p.agent.unloadHook(state.hookId));
  t.equal(state.mechanism, mechanism, state.reason);
  if (mechanism === 'tracepoint') t.same(state.target, { subsystem: 'syscalls', event: 'sys_exit_openat' });

  const present = join(dir, 'present.txt');
  const missing = join(dir, 'missing.txt');
  const ok = await runCommand(CAT, [present]);
  t.equal(ok.stdout, 'present\n');
  const bad = await runCommand(CAT, [missing]);
  t.not(bad.code, 0, 'cat of a missing file fails');
  const k = (await p.waitFor(ours(policy), 'the failed openat')).process_kprobe!;
  t.equal(k.function_name, '__x64_sys_openat');
  t.same(k.args, [{ string_arg: missing, label: 'path' }], 'the path, read at entry');
  t.same(k.return, { int_arg: -2 }, 'the return value: -ENOENT');
  t.equal(k.action, 'KPROBE_ACTION_POST');
  t.equal(k.return_action, 'KPROBE_ACTION_POST');
  t.equal(k.process.pid, bad.pid);
  await exitOf(p, bad.pid);
  const all = p.events().filter(ours(policy));
  t.equal(all.length, 1, 'one event: the successful open of the present file (return 3) gave none');
  t.notOk(all.some((ev) => ev.process_kprobe!.process.pid === ok.pid));
}

let dir: string;
t.before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-ret-')));
  writeFileSync(join(dir, 'present.txt'), 'present\n');
});
t.teardown(() => dir && rmSync(dir, { recursive: true, force: true }));

t.test('a syscall return probe: matchReturnArgs Equal -2 posts a failed openat with its return value, not a successful one', { skip }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const mechanism = !(await lacking(['kretprobes'])) ? 'kretprobe' : !(await lacking(['fexit'])) ? 'fexit' : 'tracepoint';
  await openatReturns(t, p, mechanism, dir);
});

t.test('without kretprobes, the return probe runs on fexit', { skip: await lacking(['fexit', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent({ features: without(['kprobes', 'kretprobes']) });
  t.teardown(() => p.stop());
  await openatReturns(t, p, 'fexit', dir);
});

t.test('without kretprobes and fexit, a syscall return probe runs on sys_enter/sys_exit tracepoints', { skip }, async (t) => {
  const p = await startPolicyAgent({ features: without(['kprobes', 'kretprobes', 'fentry', 'fexit', 'fmod_ret']) });
  t.teardown(() => p.stop());
  await openatReturns(t, p, 'tracepoint', dir);
});

t.test('a kretprobe on a kernel function: do_sys_openat2 returning -ENOENT', { skip: await lacking(['kretprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const policy = 'do-sys-openat2-return';
  const state = p.agent.loadHook({
    policyName: policy, hookIndex: 0, kind: 'kprobe', target: { function: 'do_sys_openat2' }, syscall: false,
    args: [{ index: 0, type: 'int' }], returnArg: { index: 0, type: 'int' },
    selectors: [selector({ matchBinaries: [{ operator: 'In', values: [CAT] }], matchReturnArgs: [{ index: 0, operator: 'Equal', values: ['-2'] }] })],
  });
  t.teardown(() => p.agent.unloadHook(state.hookId));
  t.equal(state.mechanism, 'kretprobe', state.reason);
  const ok = await runCommand(CAT, [join(dir, 'present.txt')]);
  t.equal(ok.code, 0);
  const bad = await runCommand(CAT, [join(dir, 'nope.txt')]);
  const k = (await p.waitFor((ev) => ours(policy)(ev) && ev.process_kprobe!.process.pid === bad.pid, 'do_sys_openat2 failing')).process_kprobe!;
  t.equal(k.function_name, 'do_sys_openat2');
  t.same(k.args, [{ int_arg: -100 }], 'dfd: AT_FDCWD');
  t.same(k.return, { int_arg: -2 });
  await exitOf(p, bad.pid);
  t.notOk(p.events().some((ev) => ours(policy)(ev) && ev.process_kprobe!.process.pid === ok.pid), 'the cat whose opens all succeeded gave none');
});

t.test('read(2) with returnCopy: the bytes read, as bytes_arg, cut at 4096 bytes as truncated_bytes_arg', { skip }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const text = 'vigil reads this at return\n';
  const big = 'x'.repeat(5000);
  writeFileSync(join(dir, 'small.txt'), text);
  writeFileSync(join(dir, 'big.txt'), big);
  const policy = 'read-return-copy';
  const state = p.agent.loadHook(returnPlan(policy, {
    call: 'sys_read',
    args: [{ index: 0, type: 'int' }, { index: 1, type: 'char_buf', returnCopy: true }, { index: 2, type: 'size_t' }],
    returnArg: { index: 0, type: 'int' },
    selectors: [selector({
      matchBinaries: [{ operator: 'In', values: [CAT] }],
      matchReturnArgs: [{ index: 0, operator: 'Equal', values: [String(text.length), String(big.length)] }],
    })],
  }));
  t.teardown(() => p.agent.unloadHook(state.hookId));
  const r = await runCommand(CAT, [join(dir, 'small.txt')]);
  t.equal(r.stdout, text);
  const k = (await p.waitFor((ev) => ours(policy)(ev) && ev.process_kprobe!.process.pid === r.pid, 'read of the small file')).process_kprobe!;
  t.same(k.return, { int_arg: text.length });
  t.same(k.args[1], { bytes_arg: Buffer.from(text).toString('base64') }, 'the buffer, filled by the kernel');
  t.equal(k.args[0].int_arg, 3, 'fd');
  await exitOf(p, r.pid);
  t.equal(p.events().filter(ours(policy)).length, 1, 'one event: the reads of other sizes (the ELF header, EOF) gave none');

  const b = await runCommand(CAT, [join(dir, 'big.txt')]);
  const kb = (await p.waitFor((ev) => ours(policy)(ev) && ev.process_kprobe!.process.pid === b.pid, 'read of the big file')).process_kprobe!;
  t.same(kb.args[1], { truncated_bytes_arg: { bytes_arg: Buffer.from(big.slice(0, 4096)).toString('base64'), orig_size: '5000' } });
});

t.test('writev(2) with a char_iovec arg: the iovecs\' bytes back to back', { skip }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const policy = 'writev-iovec';
  const state = p.agent.loadHook(syscallPlan('sys_writev', [
    { index: 0, type: 'int' }, { index: 1, type: 'char_iovec', sizeArgIndex: 3 }, { index: 2, type: 'int' },
  ], [selector({ matchBinaries: [{ operator: 'In', values: [NODE] }], matchArgs: [{ index: 2, operator: 'Equal', values: ['3'] }] })], policy));
  t.teardown(() => p.agent.unloadHook(state.hookId));
  const out = join(dir, 'writev.txt');
  const script = `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(out)},'w');`
    + "fs.writevSync(fd,[Buffer.from('vigil '),Buffer.from('writes '),Buffer.from('iovecs')]);fs.writevSync(fd,[Buffer.from('two'),Buffer.from('only')]);";
  const r = await runCommand(NODE, ['-e', script]);
  t.equal(r.code, 0);
  const k = (await p.waitFor((ev) => ours(policy)(ev) && ev.process_kprobe!.process.pid === r.pid, 'writev of three iovecs')).process_kprobe!;
  t.same(k.args[1], { bytes_arg: Buffer.from('vigil writes iovecs').toString('base64') });
  t.same(k.args[2], { int_arg: 3 });
  await exitOf(p, r.pid);
  t.equal(p.events().filter((ev) => ours(policy)(ev) && ev.process_kprobe!.process.pid === r.pid).length, 1, 'the writev of two iovecs gave none');
});
