// A user filters string args with SubString and SubStringIgnCase: the
// kernel looks for each value anywhere in the arg (a path opened by cat
// here), ASCII letters folded for SubStringIgnCase, and reports only the
// calls where one is found.
import t from 'tap';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking, SLOWDOWN } from './lib/kernel.js';
import { startPolicyAgent, selector, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { HookPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const ARGS: HookPlan['args'] = [{ index: 0, type: 'int' }, { index: 1, type: 'string' }, { index: 2, type: 'int' }];
const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);

let p: PolicyAgent;
let dir: string;

t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-substr-')));
  for (const d of ['watched', 'other']) mkdirSync(join(dir, d));
  for (const f of ['watched/a.txt', 'watched/b.secret', 'other/MixedCase.KEY']) writeFileSync(join(dir, f), `${f}\n`);
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

t.test('SubString and SubStringIgnCase select the opens whose path holds a value', { skip }, async (t) => {
  const [a, secret, mixed] = ['watched/a.txt', 'watched/b.secret', 'other/MixedCase.KEY'].map((f) => join(dir, f));
  const only = (operator: 'SubString' | 'SubStringIgnCase', values: string[]) => syscallPlan('sys_openat', ARGS, [selector({
    matchArgs: [{ index: 1, operator, values }, { index: 1, operator: 'Prefix', values: [dir] }],
  })]);
  const cases: { name: string; plan: HookPlan; hits: string[] }[] = [
    { name: 'a directory in the middle', plan: only('SubString', ['/watched/']), hits: [a, secret] },
    { name: 'any of the values', plan: only('SubString', ['zzz', 'secr']), hits: [secret] },
    { name: 'the whole path', plan: only('SubString', [a]), hits: [a] },
    { name: 'the last bytes', plan: only('SubString', ['.KEY']), hits: [mixed] },
    { name: 'the case differs', plan: only('SubString', ['mixedcase']), hits: [] },
    { name: 'longer than the path', plan: only('SubString', [`${mixed}/more`]), hits: [] },
    { name: 'IgnCase: the case differs', plan: only('SubStringIgnCase', ['MIXEDcase.key']), hits: [mixed] },
    { name: 'IgnCase: any case, several hits', plan: only('SubStringIgnCase', ['WATCHED']), hits: [a, secret] },
  ];
  for (const c of cases) {
    const plan = { ...c.plan, policyName: `case-${c.name.replace(/\W+/g, '-')}` };
    const id = p.agent.loadHook(plan).hookId;
    for (const f of [a, secret, mixed]) {
      const r = await runCommand(CAT, [f]);
      await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of cat ${f}`, 20_000 * SLOWDOWN);
    }
    p.agent.unloadHook(id);
    const seen = p.events().filter((ev) => ev.process_kprobe?.policy_name === plan.policyName).map((ev) => ev.process_kprobe!.args[1].string_arg);
    t.same(seen, c.hits, c.name);
  }
});
