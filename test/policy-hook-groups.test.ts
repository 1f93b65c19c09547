// Many policies watch the same syscall: their observe-only hooks run in one
// program per hook group, which reads the path once and asks one gate for
// the selectors whose Prefix may match. Each policy still gets exactly its
// own events, with its own counters, binaries filters and selector order;
// policies join and leave while the others keep reporting; 66 policies
// (more than one group holds) all load; an enforcing policy on the same
// syscall runs alone and keeps killing.
import t from 'tap';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, syscallPlan, policyBody, type PolicyAgent } from './lib/policy-agent.js';
import type { ArgFilter, HookPlan, SelectorPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const HEAD = realpathSync('/usr/bin/head');
const OPENAT_ARGS: HookPlan['args'] = [{ index: 0, type: 'int' }, { index: 1, type: 'string', label: 'path' }, { index: 2, type: 'int' }];

const skip = await lacking(['ring_buffer', 'bpf_loop']);

let p: PolicyAgent;
let dir: string;

t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-groups-')));
  for (const d of ['a', 'a/deep', 'c', 'many']) mkdirSync(join(dir, d));
  for (const f of ['a/f', 'a/deep/f', 'c/f', 'x.log', 'none', 'many/65']) writeFileSync(join(dir, f), `${f}\n`);
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const prefix = (...values: string[]): ArgFilter => ({ index: 1, operator: 'Prefix', values });
const plan = (name: string, selectors: SelectorPlan[]): HookPlan => syscallPlan('sys_openat', OPENAT_ARGS, selectors, name);

/** Opens each path with bin (cat by default); the policies that reported each open of one of them, by path. */
async function reports(paths: string[], bin = CAT): Promise<Map<string, string[]>> {
  const pids = new Set<number>();
  for (const f of paths) {
    const r = await runCommand(bin, [f]);
    pids.add(r.pid);
    await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of ${bin} ${f}`);
  }
  const out = new Map<string, string[]>(paths.map((f) => [f, []]));
  for (const ev of p.events()) {
    const body = policyBody(ev);
    const path = body?.args?.[1]?.string_arg;
    if (body && pids.has(body.process.pid) && path && out.has(path)) out.get(path)!.push(body.policy_name!);
  }
  for (const names of out.values()) names.sort();
  return out;
}

t.test('policies on one syscall share a program, and each gets exactly its events', { skip }, async (t) => {
  const f = (x: string): string => join(dir, x);
  const plans = [
    plan('grp-a', [selector({ matchArgs: [prefix(f('a/'))] })]),
    plan('grp-deep', [selector({ matchArgs: [prefix(f('a/deep/'))] })]),
    plan('grp-c', [selector({ matchArgs: [prefix(f('c/'), f('nowhere/'))] })]),
    // No Prefix: the gate cannot rule it out (cat's opens only: the machine opens other .log files).
    plan('grp-log', [selector({ matchArgs: [{ index: 1, operator: 'Postfix', values: ['.log'] }], matchBinaries: [{ operator: 'In', values: [CAT] }] })]),
    // Its binaries filter is its own: head's opens are not its.
    plan('grp-cat', [selector({ matchArgs: [prefix(dir)], matchBinaries: [{ operator: 'In', values: [CAT] }] })]),
    // Two selectors: the first that matches acts, once.
    plan('grp-two', [selector({ matchArgs: [prefix(f('c/'))] }), selector({ matchArgs: [prefix(f('c/f'))] })]),
  ];
  const hooks = plans.map((x) => p.agent.loadHook(x));
  const group = p.agent.hookGroup(hooks[0].hookId);
  t.ok(group, 'the first hook runs in a group');
  t.same(group?.members, hooks.map((h) => h.hookId), 'all six hooks run in one program');

  const seen = await reports([f('a/f'), f('a/deep/f'), f('c/f'), f('x.log'), f('none')]);
  t.same(Object.fromEntries(seen), {
    [f('a/f')]: ['grp-a', 'grp-cat'],
    [f('a/deep/f')]: ['grp-a', 'grp-cat', 'grp-deep'],
    [f('c/f')]: ['grp-c', 'grp-cat', 'grp-two'],
    [f('x.log')]: ['grp-cat', 'grp-log'],
    [f('none')]: ['grp-cat'],
  }, 'each open is reported once by each policy that matches it, overlapping prefixes included');
  const byHead = await reports([f('a/f')], HEAD);
  t.same(byHead.get(f('a/f')), ['grp-a'], 'head\'s open: not grp-cat\'s, whose binaries filter is cat');

  const counted = (name: string): number => p.events().filter((ev) => policyBody(ev)?.policy_name === name).length;
  for (const [i, x] of plans.entries()) t.equal(hooks[i].counters().matches, counted(x.policyName), `${x.policyName}: its counter is its events`);

  t.ok(p.agent.unloadHook(hooks[1].hookId), 'grp-deep unloaded');
  const after = p.agent.hookGroup(hooks[0].hookId);
  t.same(after?.members, hooks.filter((_, i) => i !== 1).map((h) => h.hookId), 'the group runs the other five');
  t.ok(after!.generation > group!.generation, 'as a new version of its program');
  const again = await reports([f('a/deep/f'), f('c/f')]);
  t.same(again.get(f('a/deep/f')), ['grp-a', 'grp-cat'], 'grp-deep reports no more, grp-a still does');
  t.same(again.get(f('c/f')), ['grp-c', 'grp-cat', 'grp-two'], 'the others report as before');
  for (const [i, h] of hooks.entries()) if (i !== 1) p.agent.unloadHook(h.hookId);
  t.equal(p.agent.hookGroup(hooks[0].hookId), undefined, 'the group is gone with its last hook');
});

t.test('66 policies on one syscall load in two groups, and the 66th reports its own open', { skip }, async (t) => {
  const hooks = Array.from({ length: 66 }, (_, i) => p.agent.loadHook(plan(`grp-many-${i}`, [selector({ matchArgs: [prefix(join(dir, 'many', String(i)))] })])));
  const groups = new Set(hooks.map((h) => p.agent.hookGroup(h.hookId)?.slot));
  t.equal(groups.size, 2, 'two groups: one program holds at most 64 selectors');
  const seen = await reports([join(dir, 'many/65')]);
  // many/6 is a prefix of many/65: policy 6 matches too.
  t.same(seen.get(join(dir, 'many/65')), ['grp-many-6', 'grp-many-65'], 'policies 6 and 65 report it, no other');
  for (const h of hooks) p.agent.unloadHook(h.hookId);
});

t.test('an enforcing policy on the same syscall runs alone, and still kills', { skip }, async (t) => {
  const watch = p.agent.loadHook(plan('grp-watch', [selector({ matchArgs: [prefix(dir)] })]));
  const kill = p.agent.loadHook(plan('grp-kill', [selector({ matchArgs: [prefix(join(dir, 'c/'))], matchBinaries: [{ operator: 'In', values: [CAT] }], matchActions: [{ action: 'Sigkill' }] })]));
  t.ok(p.agent.hookGroup(watch.hookId), 'the observing hook is in a group');
  t.equal(p.agent.hookGroup(kill.hookId), undefined, 'the enforcing hook is not');
  const r = await runCommand(CAT, [join(dir, 'c/f')]);
  t.equal(r.signal, 'SIGKILL', 'cat opening c/f is killed');
  const ev = await p.waitFor((e) => policyBody(e)?.policy_name === 'grp-watch' && policyBody(e)!.process.pid === r.pid, 'the watching policy\'s event of the killed open');
  t.equal(policyBody(ev)?.args?.[1]?.string_arg, join(dir, 'c/f'), 'the group still reports the open the other policy killed');
  p.agent.unloadHook(watch.hookId);
  p.agent.unloadHook(kill.hookId);
});
