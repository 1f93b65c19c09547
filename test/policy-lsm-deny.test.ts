// A user denies opens under a path prefix with an Override action: as a
// BPF LSM file_open hook returning argError, or as a kprobe on
// security_file_open that runs as fmod_ret. Matching opens fail with
// EPERM and are reported; others succeed; detaching lifts the deny. An
// Override the kernel cannot enforce is refused, never weakened.
import t from 'tap';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { HookPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const tryOpen = (file: string): void => closeSync(openSync(file, 'r'));

let p: PolicyAgent;
let dir: string;

t.before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-deny-')));
  for (const d of ['denied', 'allowed']) mkdirSync(join(dir, d));
  for (const f of ['denied/x.txt', 'allowed/y.txt']) writeFileSync(join(dir, f), `${f}\n`);
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const denyPlan = (kind: 'lsm' | 'kprobe', policyName: string): HookPlan => ({
  policyName, hookIndex: 0, syscall: false, args: [{ index: 0, type: 'file' }],
  selectors: [selector({ matchArgs: [{ index: 0, operator: 'Prefix', values: [`${dir}/denied/`] }], matchActions: [{ action: 'Override', argError: -1 }] })],
  ...(kind === 'lsm' ? { kind, target: { hook: 'file_open' } } : { kind, target: { function: 'security_file_open' } }),
});

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

async function deniesUnderPrefix(t: TapTest, plan: HookPlan, mechanism: string, event: 'process_lsm' | 'process_kprobe'): Promise<void> {
  const denied = join(dir, 'denied/x.txt');
  const allowed = join(dir, 'allowed/y.txt');
  const state = p.agent.loadHook(plan);
  let attached = true;
  t.teardown(() => attached && p.agent.unloadHook(state.hookId));
  t.equal(state.mechanism, mechanism, state.reason);

  t.throws(() => tryOpen(denied), { code: 'EPERM' }, 'open() under the prefix fails with EPERM');
  t.doesNotThrow(() => tryOpen(allowed), 'open() elsewhere succeeds');
  const cat = await runCommand(CAT, [denied]);
  t.equal(cat.code, 1, 'cat cannot read the denied file');
  t.equal(cat.stdout, '');
  t.equal((await runCommand(CAT, [allowed])).stdout, 'allowed/y.txt\n');

  const ev = await p.waitFor((e) => e[event]?.policy_name === plan.policyName && e[event]!.process.pid === cat.pid, 'the deny event for cat');
  const body = ev[event]!;
  t.equal(body.action, 'KPROBE_ACTION_OVERRIDE');
  t.same(body.args, [{ file_arg: { path: denied } }]);
  t.equal(body.function_name, plan.kind === 'lsm' ? 'file_open' : 'security_file_open');

  p.agent.unloadHook(state.hookId);
  attached = false;
  t.doesNotThrow(() => tryOpen(denied), 'the file opens again once the hook is detached');
}

t.test('an LSM file_open hook with Override argError -1 denies opens under a prefix with EPERM, and only those', { skip: await lacking(['bpf_lsm', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  await deniesUnderPrefix(t, denyPlan('lsm', 'deny-lsm'), 'lsm', 'process_lsm');
});

t.test('an Override on the security_file_open kprobe runs as fmod_ret and denies the same way', { skip: await lacking(['fmod_ret', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  await deniesUnderPrefix(t, denyPlan('kprobe', 'deny-fmod-ret'), 'fmod_ret', 'process_kprobe');
});

t.test('an Override the kernel cannot enforce is refused, and nothing stays loaded', async (t) => {
  // No kernel here can change openat's return: no bpf_override_return, and the
  // syscall is not on the error-injection list (or fmod_ret is missing).
  const plan = syscallPlan('sys_openat', [{ index: 1, type: 'string' }], [selector({ matchActions: [{ action: 'Override', argError: -1 }] })], 'cannot-enforce');
  t.throws(() => p.agent.loadHook(plan), { code: 'VIGIL_NOT_SUPPORTED', message: /fmod_ret/ });
  if (await lacking(['bpf_lsm'])) {
    t.throws(() => p.agent.loadHook(denyPlan('lsm', 'no-lsm')), { code: 'VIGIL_NOT_SUPPORTED', message: /bpf_lsm/ });
  }
  const status = p.agent.status() as { hooks: unknown[]; programs: { sensor: string }[] };
  t.same(status.hooks, [], 'no hook is loaded');
  t.notOk(status.programs.some((c) => c.sensor.startsWith('policy ')), 'no counter slot is held');
});
