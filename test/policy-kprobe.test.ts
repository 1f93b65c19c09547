// A user hooks a kernel function (security_file_open) with a file
// argument and a Prefix filter: opens under the prefix give process_kprobe
// events with the file's path, resolved in the kernel; other opens give
// nothing. Needs kprobes; the same hook also runs on fentry when the agent
// is told kprobes are missing.
import t from 'tap';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, suiteFeatures, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { HookPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');

function filePlan(dir: string, policyName: string): HookPlan {
  return {
    policyName, hookIndex: 0, kind: 'kprobe', target: { function: 'security_file_open' }, syscall: false,
    args: [{ index: 0, type: 'file' }],
    selectors: [selector({ matchArgs: [{ index: 0, operator: 'Prefix', values: [`${dir}/watched/`] }] })],
  };
}

function files(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-kprobe-')));
  for (const d of ['watched', 'other']) mkdirSync(join(dir, d));
  for (const f of ['watched/a.txt', 'other/b.txt']) writeFileSync(join(dir, f), `${f}\n`);
  return dir;
}

/** A subtest, as t.test hands it to its callback. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

async function opensAreReported(t: TapTest, p: PolicyAgent, mechanism: string): Promise<void> {
  const dir = files();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = p.agent.loadHook(filePlan(dir, `file-open-${mechanism}`));
  t.teardown(() => p.agent.unloadHook(state.hookId));
  t.equal(state.mechanism, mechanism, state.reason);
  t.same(state.target, { function: 'security_file_open' });

  const other = await runCommand(CAT, [join(dir, 'other/b.txt')]);
  const r = await runCommand(CAT, [join(dir, 'watched/a.txt')]);
  t.equal(r.stdout, 'watched/a.txt\n');
  const k = (await p.waitFor((ev) => ev.process_kprobe?.policy_name === `file-open-${mechanism}`, 'open of the watched file')).process_kprobe!;
  t.equal(k.function_name, 'security_file_open');
  t.same(k.args, [{ file_arg: { path: join(dir, 'watched/a.txt') } }]);
  t.equal(k.process.pid, r.pid);
  t.equal('binary' in k.process && k.process.binary, CAT);
  await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, 'exit of cat');
  const ours = p.events().filter((ev) => ev.process_kprobe?.policy_name === `file-open-${mechanism}`);
  t.equal(ours.length, 1, 'one event: the other file gave none');
  t.notOk(ours.some((ev) => ev.process_kprobe!.process.pid === other.pid));
}

t.test('a kprobe on security_file_open with a file arg and a Prefix filter gives process_kprobe events', { skip: await lacking(['kprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  await opensAreReported(t, p, 'kprobe');
});

t.test('without kprobes, the same hook runs on fentry, and so does a syscall hook', { skip: await lacking(['fentry', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const features = (suiteFeatures() ?? []).map((f) => (f.feature === 'kprobes' ? { ...f, works: false, reason: 'hidden by the test' } : f));
  const p = await startPolicyAgent({ features });
  t.teardown(() => p.stop());
  await opensAreReported(t, p, 'fentry');

  const dir = files();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'watched/a.txt');
  const state = p.agent.loadHook(syscallPlan('sys_openat', [{ index: 1, type: 'string' }, { index: 2, type: 'int' }], [selector({
    matchArgs: [{ index: 1, operator: 'Equal', values: [file] }],
  })], 'openat-fentry'));
  t.teardown(() => p.agent.unloadHook(state.hookId));
  t.match(state, { mechanism: 'fentry', target: { function: '__x64_sys_openat' } });
  const r = await runCommand(CAT, [file]);
  const k = (await p.waitFor((ev) => ev.process_kprobe?.policy_name === 'openat-fentry', 'openat through fentry')).process_kprobe!;
  t.equal(k.process.pid, r.pid);
  t.same(k.args[0], { string_arg: file }, 'the path, read from the syscall\'s registers');
});

t.test('a path argument (security_path_truncate) is resolved to the absolute path', { skip: await lacking(['kprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const dir = files();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'watched/a.txt');
  const state = p.agent.loadHook({
    policyName: 'truncate', hookIndex: 0, kind: 'kprobe', target: { function: 'security_path_truncate' }, syscall: false,
    args: [{ index: 0, type: 'path' }],
    selectors: [selector({ matchArgs: [{ index: 0, operator: 'Equal', values: [file] }] })],
  });
  t.teardown(() => p.agent.unloadHook(state.hookId));
  truncateSync(file, 1);
  const k = (await p.waitFor((ev) => ev.process_kprobe?.policy_name === 'truncate', 'the truncate')).process_kprobe!;
  t.same(k.args, [{ path_arg: { path: file } }]);
  t.equal(k.process.pid, process.pid);
});

t.test('a dentry argument (security_inode_unlink) gives the path within its mount', { skip: await lacking(['kprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const dir = files();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = p.agent.loadHook({
    policyName: 'unlink', hookIndex: 0, kind: 'kprobe', target: { function: 'security_inode_unlink' }, syscall: false,
    args: [{ index: 1, type: 'dentry' }],
    selectors: [selector({ matchArgs: [{ index: 1, operator: 'Postfix', values: ['/watched/a.txt'] }] })],
  });
  t.teardown(() => p.agent.unloadHook(state.hookId));
  const mount = (await runCommand('stat', ['-c', '%m', dir])).stdout.trim();
  unlinkSync(join(dir, 'other/b.txt'));
  unlinkSync(join(dir, 'watched/a.txt'));
  const k = (await p.waitFor((ev) => ev.process_kprobe?.policy_name === 'unlink', 'the unlink')).process_kprobe!;
  const inMount = mount === '/' ? join(dir, 'watched/a.txt') : join(dir, 'watched/a.txt').slice(mount.length);
  t.same(k.args, [{ path_arg: { path: inMount } }], `the path below ${mount}`);
  t.equal(p.events().filter((ev) => ev.process_kprobe?.policy_name === 'unlink').length, 1, 'the other unlink gave none');
});
