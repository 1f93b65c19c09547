// Tetragon-format policies covering every hook kind, selector and action
// (test/fixtures/policies/valid/) are loaded into a running agent. Each
// loads, or fails with a documented error: a kernel feature this kernel
// lacks (named), or a part of the language Vigil's kernel programs do not
// evaluate yet (named by its field path). Nothing is silently ignored.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, runCommand, REPO, VIGIL } from './lib/agent.js';
import { KERNEL } from './lib/kernel.js';
import type { PolicyState } from '../agent/policy/manager.js';

const DIR = join(REPO, 'test/fixtures/policies/valid');
const DOCUMENTED = [
  /is not supported by this kernel: /,
  /^spec\.[\w.[\]]+: \S+ is not evaluated by Vigil's kernel programs yet$/,
  /^spec\.[\w.[\]]+: .* (is|are) not supported by Vigil yet$/,
  /^spec\.[\w.[\]]+: operator "\w+" is not evaluated by Vigil's kernel programs yet$/,
];

t.test(`every fixture policy loads or fails with a documented error on ${KERNEL}`, async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const rows: string[] = [];
  for (const name of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    const r = await runCommand(process.execPath, [VIGIL, 'policy', 'add', join(DIR, name), '--json', '--socket', agent.socket]);
    const states = JSON.parse(r.stdout) as PolicyState[];
    t.ok(states.length > 0, `${name}: the agent answered`);
    for (const s of states) {
      rows.push(`${s.name.padEnd(28)} ${s.state.padEnd(7)} ${s.errors.length ? s.errors[0].slice(0, 110) : s.hooks.map((h) => h.mechanism).join(',')}`);
      if (s.state === 'loaded') continue;
      for (const e of s.errors) t.ok(DOCUMENTED.some((re) => re.test(e)), `${s.name}: documented error: ${e}`);
    }
    t.equal(r.code, states.every((s) => s.state === 'loaded') ? 0 : 1, `${name}: exit code matches the states`);
  }
  t.equal(agent.child.exitCode, null, 'the agent kept running through all of them');
  t.comment(`\n${rows.join('\n')}`);
});
