// A user loads syscall hooks (`syscall: true` kprobes, as Tetragon's
// policies write them). On a kernel without kprobes they run on the
// syscall's sys_enter tracepoint; with kprobes, as kprobes
// (test/syscall-dispatch.test.ts forces the fallbacks). Either way
// the selectors are evaluated in the kernel: matching calls give
// process_kprobe events with their arguments, others give nothing, and
// Sigkill kills the caller before it returns to user space.
import t from 'tap';
import { mkdirSync, writeFileSync, copyFileSync, chmodSync, realpathSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';
import type { HookPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const HEAD = realpathSync('/usr/bin/head');
const SH = realpathSync('/bin/sh');
const ECHO = realpathSync('/bin/echo');
const OPENAT_ARGS: HookPlan['args'] = [{ index: 0, type: 'int' }, { index: 1, type: 'string', label: 'path' }, { index: 2, type: 'int' }];

const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);
const expectedMechanism = !(await lacking(['kprobes'])) ? 'kprobe' : !(await lacking(['fentry'])) ? 'fentry' : 'tracepoint';

let p: PolicyAgent;
let dir: string;

t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-sys-')));
  for (const d of ['watched', 'other']) mkdirSync(join(dir, d));
  for (const f of ['watched/a.txt', 'watched/b.secret', 'other/c.txt']) writeFileSync(join(dir, f), `${f}\n`);
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const openOf = (path: string) => (ev: TetragonEvent): boolean =>
  ev.process_kprobe?.function_name === '__x64_sys_openat' && ev.process_kprobe.args[1]?.string_arg === path;

interface Scope { teardown(fn: () => unknown): unknown }

/** Loads a plan for the duration of one test. */
function load(t: Scope, plan: HookPlan): number {
  const state = p.agent.loadHook(plan);
  t.teardown(() => p.agent.unloadHook(state.hookId));
  return state.hookId;
}

/** Runs cmd; returns once its exit is exported, so every earlier record was read too. */
async function run(cmd: string, args: string[]): Promise<Awaited<ReturnType<typeof runCommand>>> {
  const r = await runCommand(cmd, args);
  await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of ${cmd} ${args.join(' ')}`);
  return r;
}

t.test('openat with a Prefix on the path and matchBinaries: matching opens are reported with their path, others not', { skip }, async (t) => {
  const state = p.agent.loadHook(syscallPlan('sys_openat', OPENAT_ARGS, [selector({
    matchArgs: [{ index: 1, operator: 'Prefix', values: [`${dir}/watched/`] }],
    matchBinaries: [{ operator: 'In', values: [CAT] }],
  })]));
  t.teardown(() => p.agent.unloadHook(state.hookId));
  t.equal(state.mechanism, expectedMechanism, state.reason);
  if (expectedMechanism === 'tracepoint') t.same(state.target, { subsystem: 'syscalls', event: 'sys_enter_openat' });

  const file = join(dir, 'watched/a.txt');
  const r = await run(CAT, [file]);
  t.equal(r.stdout, 'watched/a.txt\n');
  const k = (await p.waitFor(openOf(file), 'openat of the watched file by cat')).process_kprobe!;
  t.equal(k.process.pid, r.pid);
  t.equal('binary' in k.process && k.process.binary, CAT);
  t.equal(k.parent?.pid, process.pid, 'the parent is this test');
  t.equal(k.policy_name, 'test-policy');
  t.equal(k.action, 'KPROBE_ACTION_POST');
  t.same(k.args[1], { string_arg: file, label: 'path' });
  t.equal(k.args[0].int_arg, -100, 'dirfd is AT_FDCWD');

  await run(CAT, [join(dir, 'other/c.txt')]);
  await run(HEAD, [file]);
  const ours = p.events().filter((ev) => ev.process_kprobe?.args[1]?.string_arg?.startsWith(dir));
  t.same(ours.map((ev) => ev.process_kprobe!.args[1].string_arg), [file], 'another path and another binary gave nothing');
});

t.test('NotPrefix, Postfix, NotPostfix, Equal, NotEqual, GT, LT, Mask, InMap, NotInMap, InRange and NotInRange select what they say', { skip }, async (t) => {
  const watched = join(dir, 'watched/a.txt');
  const secret = join(dir, 'watched/b.secret');
  const other = join(dir, 'other/c.txt');
  const onlyCat = [{ operator: 'In' as const, values: [CAT] }];
  const cases: { name: string; plan: HookPlan; hits: string[] }[] = [
    { name: 'NotPrefix', hits: [other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 1, operator: 'NotPrefix', values: [`${dir}/watched/`, '/usr/', '/etc/', '/lib'] }], matchBinaries: onlyCat })]) },
    { name: 'Postfix', hits: [secret], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 1, operator: 'Postfix', values: ['.secret'] }], matchBinaries: onlyCat })]) },
    { name: 'Equal', hits: [other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 1, operator: 'Equal', values: [other, `${watched}x`] }] })]) },
    { name: 'GT (signed)', hits: [watched, secret, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'GT', values: ['-101'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'GT 0 (AT_FDCWD is negative)', hits: [], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'GT', values: ['0'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'NotPostfix', hits: [watched, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 1, operator: 'NotPostfix', values: ['.secret', '.so', '.so.6'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'NotEqual', hits: [watched, secret], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 1, operator: 'NotEqual', values: [other] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'LT (signed)', hits: [watched, secret, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'LT', values: ['-99'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'LT -100 (not below itself)', hits: [], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'LT', values: ['-100'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    // AT_FDCWD is -100: ...10011100 in two's complement.
    { name: 'Mask (a bit of -100 is set)', hits: [watched, secret, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'Mask', values: ['4'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    // InMap and InRange take values and ranges a:b, signed as the arg.
    { name: 'InMap (the value)', hits: [watched, secret, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'InMap', values: ['3', '-100'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'InMap (a range holding -100 at its end)', hits: [watched, secret, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'InMap', values: ['-200:-100'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'InMap (ranges beside -100)', hits: [], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'InMap', values: ['-99:5', '-2147483648:-101'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'InRange (every int)', hits: [watched, secret, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'InRange', values: ['-2147483648:2147483647'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'NotInMap (-100 is in)', hits: [], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'NotInMap', values: ['-128:-65'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'NotInRange (-100 is out)', hits: [watched, secret, other], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'NotInRange', values: ['0:1000'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
    { name: 'Mask (no bit of -100 is set)', hits: [], plan: syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 0, operator: 'Mask', values: ['1', '2'] }, { index: 1, operator: 'Prefix', values: [dir] }] })]) },
  ];
  for (const c of cases) {
    const plan = { ...c.plan, policyName: `case-${c.name.replace(/\W+/g, '-')}` };
    const id = p.agent.loadHook(plan).hookId;
    for (const f of [watched, secret, other]) await run(CAT, [f]);
    p.agent.unloadHook(id);
    const seen = p.events().filter((ev) => ev.process_kprobe?.policy_name === plan.policyName).map((ev) => ev.process_kprobe!.args[1].string_arg);
    t.same(seen.filter((s) => s?.startsWith(dir)), c.hits, c.name);
  }
});

t.test('Sigkill on execve of a binary under a temp dir: the victim dies of SIGKILL and its output never appears', { skip: skip || await lacking(['bpf_send_signal']) }, async (t) => {
  const bin = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-victim-')));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  const victim = join(bin, 'victim');
  copyFileSync(ECHO, victim);
  chmodSync(victim, 0o755);
  load(t, syscallPlan('sys_execve', [{ index: 0, type: 'string' }], [selector({
    matchArgs: [{ index: 0, operator: 'Prefix', values: [`${bin}/`] }],
    matchActions: [{ action: 'Sigkill' }],
  })], 'kill-exec-from-tmp'));

  const r = await runCommand(victim, ['should-not-print']);
  t.equal(r.signal, 'SIGKILL', 'the victim died of SIGKILL');
  t.equal(r.stdout, '', 'its output never appeared');
  const k = (await p.waitFor((ev) => ev.process_kprobe?.policy_name === 'kill-exec-from-tmp', 'the Sigkill event')).process_kprobe!;
  t.equal(k.action, 'KPROBE_ACTION_SIGKILL');
  t.equal(k.args[0].string_arg, victim);
  t.equal(k.process.pid, r.pid);
  // An exec hook that kills is judged by the file the kernel executes, so the
  // exec may complete in the kernel (test/exec-enforcement.test.ts): the
  // victim's image never runs an instruction all the same.

  const ok = await run(ECHO, ['still-fine']);
  t.equal(ok.stdout, 'still-fine\n', 'a binary elsewhere runs');
  t.equal((await run(SH, ['-c', 'echo $((6*7))'])).stdout, '42\n', 'a shell runs its children');
});

t.test('an fd argument is resolved to its file path in the kernel', { skip }, async (t) => {
  const file = join(dir, 'watched/a.txt');
  load(t, syscallPlan('sys_close', [{ index: 0, type: 'fd' }], [selector({
    matchArgs: [{ index: 0, operator: 'Postfix', values: ['/watched/a.txt'] }],
    matchBinaries: [{ operator: 'In', values: [CAT] }],
  })], 'close-fd'));
  const r = await run(CAT, [file]);
  const k = (await p.waitFor((ev) => ev.process_kprobe?.policy_name === 'close-fd', 'close of the file')).process_kprobe!;
  t.equal(k.function_name, '__x64_sys_close');
  t.same(k.args, [{ file_arg: { path: file } }]);
  t.equal(k.process.pid, r.pid);
});

t.test('an unloaded hook reports nothing more', { skip }, async (t) => {
  const file = join(dir, 'watched/a.txt');
  const id = p.agent.loadHook(syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs: [{ index: 1, operator: 'Equal', values: [file] }] })], 'unloaded')).hookId;
  await run(CAT, [file]);
  await p.waitFor((ev) => ev.process_kprobe?.policy_name === 'unloaded', 'the open while loaded');
  t.ok(p.agent.unloadHook(id));
  t.notOk(p.agent.unloadHook(id), 'a second unload finds nothing');
  await run(CAT, [file]);
  t.equal(p.events().filter((ev) => ev.process_kprobe?.policy_name === 'unloaded').length, 1);
});

t.test('Signal with NoPost: the named signal, and no event', { skip: skip || await lacking(['bpf_send_signal']) }, async (t) => {
  const bin = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-signal-')));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  const victim = join(bin, 'victim');
  copyFileSync(ECHO, victim);
  chmodSync(victim, 0o755);
  load(t, syscallPlan('sys_execve', [{ index: 0, type: 'string' }], [selector({
    matchArgs: [{ index: 0, operator: 'Equal', values: [victim] }],
    matchActions: [{ action: 'Signal', argSig: 10 }, { action: 'NoPost' }],
  })], 'signal-quietly'));
  const r = await run(victim, ['x']);
  t.equal(r.signal, 'SIGUSR1');
  t.equal(r.stdout, '');
  t.notOk(p.events().some((ev) => ev.process_kprobe?.policy_name === 'signal-quietly'), 'NoPost: no event');
});

t.test('rateLimit posts identical calls once per window', { skip }, async (t) => {
  const file = join(dir, 'watched/a.txt');
  // The path only: node and cat open with different flags.
  load(t, syscallPlan('sys_openat', [{ index: 1, type: 'string' }], [selector({
    matchArgs: [{ index: 1, operator: 'Equal', values: [file] }],
    matchActions: [{ action: 'Post', rateLimit: '1m', rateLimitScope: 'global' }],
  })], 'rate-limited'));
  for (let i = 0; i < 3; i++) readFileSync(file);
  await run(CAT, [file]);
  const seen = p.events().filter((ev) => ev.process_kprobe?.policy_name === 'rate-limited');
  t.equal(seen.length, 1, 'four identical opens from two processes, one event');
});

t.test('matchBinaries knows processes that started before the agent', { skip }, async (t) => {
  const file = join(dir, 'other/c.txt');
  load(t, syscallPlan('sys_openat', OPENAT_ARGS, [selector({
    matchArgs: [{ index: 1, operator: 'Equal', values: [file] }],
    matchBinaries: [{ operator: 'In', values: [realpathSync(process.execPath)] }],
  })], 'procfs-binary'));
  readFileSync(file);
  await run(CAT, [file]);
  const seen = p.events().filter((ev) => ev.process_kprobe?.policy_name === 'procfs-binary');
  t.same(seen.map((ev) => ev.process_kprobe!.process.pid), [process.pid], 'this test process (from /proc), not cat');
});

t.test('the largest selector set Vigil accepts passes the verifier', { skip }, async (t) => {
  const many = Array.from({ length: 64 }, (_, i) => String(i));
  const full = selector({
    matchArgs: [
      { index: 0, operator: 'LT', values: many },
      { index: 2, operator: 'Mask', values: many },
      { index: 0, operator: 'NotEqual', values: many },
      { index: 2, operator: 'GT', values: ['-5'] },
      { index: 1, operator: 'Prefix', values: ['/a', '/b'] },
      { index: 1, operator: 'NotPostfix', values: ['.x'] },
      { index: 1, operator: 'NotEqual', values: ['/etc/shadow'] },
      { index: 1, operator: 'NotPrefix', values: ['/zz'] },
    ],
    matchPIDs: [
      ...Array(3).fill({ operator: 'NotIn', values: many.map((_, i) => i + 2), followForks: true, isNamespacePID: false }),
      { operator: 'NotIn', values: [2], followForks: false, isNamespacePID: true },
    ],
    matchBinaries: [{ operator: 'NotIn', values: ['/x'] }, { operator: 'NotPostfix', values: ['/y'] }, { operator: 'NotPrefix', values: ['/q'] }],
    matchActions: [{ action: 'Post', rateLimit: '1s' }],
  });
  load(t, syscallPlan('sys_openat', OPENAT_ARGS, Array(32).fill(full), 'largest'));
  t.pass('32 selectors of 8 matchArgs, 4 matchPIDs and 3 matchBinaries loaded');
});
