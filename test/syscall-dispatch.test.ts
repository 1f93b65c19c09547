// Syscall hooks on kernels without kprobes or fentry, forced on any kernel
// by hiding those features from the agent: first on the
// syscalls/sys_enter_<name> tracepoint, then, without syscall tracepoints
// too, through Vigil's raw_syscalls/sys_enter dispatcher (tp_btf, a tail
// call by syscall number). Both deliver the same events; two hooks on one
// syscall both fire; an unloaded hook stops, and the other keeps firing.
import t from 'tap';
import { stringify } from 'yaml';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, startAgent, VIGIL } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, suiteFeatures, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import { probeFeatures, type FeatureResult } from '../kernel/features.js';
import type { HookPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const ARGS: HookPlan['args'] = [{ index: 1, type: 'string' }];

const skip = await lacking(['tp_btf', 'tracepoints', 'ring_buffer', 'bpf_loop']);
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-dispatch-')));
for (const d of ['watched', 'other']) mkdirSync(join(dir, d));
for (const f of ['watched/a.txt', 'other/b.txt']) writeFileSync(join(dir, f), `${f}\n`);
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** This kernel's features, less those named. */
function without(hidden: string[]): FeatureResult[] {
  return (suiteFeatures() ?? probeFeatures()).map((f) => (hidden.includes(f.feature) ? { ...f, works: false, reason: 'hidden by the test' } : f));
}

const plan = (name: string, prefix: string): HookPlan =>
  syscallPlan('sys_openat', ARGS, [selector({ matchArgs: [{ index: 1, operator: 'Prefix', values: [prefix] }] })], name);

async function opens(p: PolicyAgent, policy: string, file: string): Promise<number> {
  const r = await runCommand(CAT, [file]);
  await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of cat ${file}`);
  return p.events().filter((ev) => ev.process_kprobe?.policy_name === policy && ev.process_kprobe.process.pid === r.pid).length;
}

for (const [mechanism, hidden] of [['tracepoint', ['kprobes', 'fentry']], ['syscall_dispatch', ['kprobes', 'fentry', 'tracepoints']]] as const) {
  t.test(`${mechanism}: two hooks on openat filter apart, and unload apart`, { skip }, async (t) => {
    const p = await startPolicyAgent({ features: without([...hidden]) });
    t.teardown(() => p.stop());
    const a = p.agent.loadHook(plan('watched', `${dir}/watched/`));
    const b = p.agent.loadHook(plan('all', `${dir}/`));
    t.equal(a.mechanism, mechanism, a.reason);
    t.equal(b.mechanism, mechanism);
    if (mechanism === 'syscall_dispatch') t.match(a.reason, /dispatched by syscall number 257/);

    t.equal(await opens(p, 'watched', join(dir, 'watched/a.txt')), 1, 'the first hook sees the watched open');
    t.equal(await opens(p, 'all', join(dir, 'watched/a.txt')), 1, 'the second hook on the same syscall too');
    t.equal(await opens(p, 'watched', join(dir, 'other/b.txt')), 0, 'the first hook filters the other open out');
    t.equal(await opens(p, 'all', join(dir, 'other/b.txt')), 1, 'the second hook keeps it');

    t.ok(p.agent.unloadHook(a.hookId));
    t.equal(await opens(p, 'watched', join(dir, 'watched/a.txt')), 0, 'the unloaded hook is silent');
    t.equal(await opens(p, 'all', join(dir, 'watched/a.txt')), 1, 'the other hook still fires');
    t.ok(p.agent.unloadHook(b.hookId));
    t.equal(await opens(p, 'all', join(dir, 'watched/a.txt')), 0, 'and stops once unloaded');
  });
}

t.test('vigil run --disable-feature tracepoints puts the hook on the dispatcher instead', { skip }, async (t) => {
  const file = join(dir, 'open-watch.yaml');
  writeFileSync(file, stringify({
    apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: 'open-watch' },
    spec: { kprobes: [{ call: 'sys_openat', syscall: true, args: [{ index: 1, type: 'string' }], selectors: [{ matchArgs: [{ index: 1, operator: 'Prefix', values: [`${dir}/watched/`] }] }] }] },
  }));
  const agent = await startAgent(['--policy', file, ...['tracepoints', 'kprobes', 'fentry'].flatMap((f) => ['--disable-feature', f])]);
  t.teardown(() => agent.stop());
  const list = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', agent.socket]);
  t.match(JSON.parse(list.stdout), [{ name: 'open-watch', hooks: [{ mechanism: 'syscall_dispatch', reason: /tracepoint: tracepoints disabled by --disable-feature/ }] }]);
  const r = await runCommand(CAT, [join(dir, 'watched/a.txt')]);
  const ev = await agent.waitFor((ev) => ev.process_kprobe?.process.pid === r.pid, 'the open through the dispatcher');
  t.equal(ev.process_kprobe!.args?.[0]?.string_arg, join(dir, 'watched/a.txt'));

  const bad = await runCommand(process.execPath, [VIGIL, 'run', '--disable-feature', 'tp_bfd', '--output', 'none', '--no-export-file']);
  t.equal(bad.code, 1, 'an unknown feature is a usage error');
});
