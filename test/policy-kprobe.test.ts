// A user hooks a kernel function (security_file_open) with a file
// argument and a Prefix filter: opens under the prefix give process_kprobe
// events with the file's path, resolved in the kernel; other opens give
// nothing. Needs kprobes; the same hook also runs on fentry when the agent
// is told kprobes are missing.
import t from 'tap';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, suiteFeatures, type PolicyAgent } from './lib/policy-agent.js';
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

async function opensAreReported(t: Tap.Test, p: PolicyAgent, mechanism: string): Promise<void> {
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

declare namespace Tap { interface Test { teardown(fn: () => unknown): unknown; equal(a: unknown, b: unknown, m?: string): unknown; same(a: unknown, b: unknown, m?: string): unknown; ok(a: unknown, m?: string): unknown; notOk(a: unknown, m?: string): unknown } }

t.test('a kprobe on security_file_open with a file arg and a Prefix filter gives process_kprobe events', { skip: await lacking(['kprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  await opensAreReported(t, p, 'kprobe');
});

t.test('without kprobes, the same hook runs on fentry', { skip: await lacking(['fentry', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const features = (suiteFeatures() ?? []).map((f) => (f.feature === 'kprobes' ? { ...f, works: false, reason: 'hidden by the test' } : f));
  const p = await startPolicyAgent({ features });
  t.teardown(() => p.stop());
  await opensAreReported(t, p, 'fentry');
});
