// A user's policy filters on an argument Vigil cannot read: here a path
// that sits in a file-backed page the caller never touched, which the
// kernel faults in and a BPF program cannot. The filter cannot decide: it
// does not match (neither Prefix nor NotPrefix, as an empty string would),
// the hook counts the call as undecided, and with spec.options
// fail-closed a selector that kills matches.
import t from 'tap';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { buildExecForms } from './lib/programs.js';
import { startPolicyAgent, selector, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { HookPlan } from '../policies/compiler/plan.js';

const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop', 'bpf_send_signal']);

let p: PolicyAgent;
let dir: string;
let forms: string;
let file: string;

t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-undecided-')));
  forms = buildExecForms(dir);
  file = join(dir, 'watched.txt');
  writeFileSync(file, 'x\n');
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens file with its path in an untouched page, or in ordinary memory; resolves once its exit is exported. */
async function open(how: 'page-open' | 'exec') {
  const r = how === 'page-open' ? await runCommand(forms, ['page-open', file]) : await runCommand('/bin/cat', [file]);
  await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of ${how}`);
  return r;
}

/** Loads a sys_openat hook of the path for this test; returns its policy's counters. */
function load(t: { teardown(fn: () => unknown): unknown }, name: string, plan: Pick<HookPlan, 'selectors' | 'failClosed'> & { call?: string; args?: HookPlan['args'] }) {
  const full: HookPlan = { ...syscallPlan(plan.call ?? 'sys_openat', plan.args ?? [{ index: 1, type: 'string' }], plan.selectors, name), failClosed: plan.failClosed };
  const { hookId } = p.agent.loadHook(full);
  t.teardown(() => p.agent.unloadHook(hookId));
  return () => (p.agent.status().programs as { sensor: string; undecided: number }[]).find((c) => c.sensor === `policy ${name}`)!;
}

t.test('a path in an untouched page is undecided: Sigkill does not fire, the call is counted', { skip }, async (t) => {
  const counters = load(t, 'open-kill', {
    selectors: [selector({ matchArgs: [{ index: 1, operator: 'Prefix', values: [`${dir}/`] }], matchActions: [{ action: 'Sigkill' }] })],
  });
  const r = await open('page-open');
  t.equal(r.code, 0, 'the open ran: the filter did not decide to kill');
  t.ok(counters().undecided >= 1, `undecided counted (${counters().undecided})`);
  t.notOk(p.events().some((ev) => ev.process_kprobe?.policy_name === 'open-kill'), 'no event');
});

t.test('an undecided path is not NotPrefix either: an empty string would have matched', { skip }, async (t) => {
  load(t, 'open-notprefix', {
    selectors: [selector({ matchArgs: [{ index: 1, operator: 'NotPrefix', values: ['/'] }], matchBinaries: [{ operator: 'In', values: [forms] }] })],
  });
  await open('page-open');
  t.notOk(p.events().some((ev) => ev.process_kprobe?.policy_name === 'open-notprefix'), 'no event for the unreadable path');
});

t.test('fail-closed: the selector that kills matches an undecided path; readable paths are judged as before', { skip }, async (t) => {
  const counters = load(t, 'open-fail-closed', {
    failClosed: true,
    selectors: [selector({ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/nowhere/'] }], matchBinaries: [{ operator: 'In', values: [forms] }], matchActions: [{ action: 'Sigkill' }] })],
  });
  const r = await open('page-open');
  t.equal(r.signal, 'SIGKILL', 'killed: the path could not be read');
  const ev = (await p.waitFor((e) => e.process_kprobe?.policy_name === 'open-fail-closed', 'the kill event')).process_kprobe!;
  t.equal(ev.action, 'KPROBE_ACTION_SIGKILL');
  t.equal(ev.process.pid, r.pid);
  t.ok(counters().undecided >= 1);
  const ok = await runCommand(forms, ['exec', '/bin/true']);
  t.equal(ok.code, 0, 'a readable path outside /nowhere/ is not killed');
});

t.test('an fd that names no file is an empty path, not an unreadable one', { skip }, async (t) => {
  const PERL = realpathSync('/usr/bin/perl');
  const counters = load(t, 'close-nothing', {
    call: 'sys_close', args: [{ index: 0, type: 'fd' }], failClosed: true,
    selectors: [selector({ matchArgs: [{ index: 0, operator: 'NotPrefix', values: ['/'] }], matchBinaries: [{ operator: 'In', values: [PERL] }] })],
  });
  const r = await runCommand(PERL, ['-MPOSIX', '-e', 'POSIX::close(77)']);
  const ev = (await p.waitFor((e) => e.process_kprobe?.policy_name === 'close-nothing' && e.process_kprobe.process.pid === r.pid, 'the close of fd 77')).process_kprobe!;
  t.same(ev.args, [{ file_arg: {} }], 'no path (an empty one is left out, as in Tetragon): NotPrefix / matches');
  t.equal(counters().undecided, 0, 'nothing was unreadable');
});
