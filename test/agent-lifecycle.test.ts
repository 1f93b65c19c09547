// Starting and stopping the agent: a clear one-line error when it cannot
// run, and SIGINT/SIGTERM detach every program and flush the exports.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { startAgent, runCommand, VIGIL } from './lib/agent.js';

/** Ids of the Vigil programs in the kernel (other agents' included). */
function vigilPrograms(): number[] {
  const out = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  return out.filter((p) => p.name?.startsWith('vigil_')).map((p) => p.id);
}

t.test('not root: one line that says what to do', async (t) => {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, VIGIL, 'run', '--no-export-file'], {
    encoding: 'utf8',
  });
  t.equal(r.status, 1);
  t.equal(r.stderr, 'vigil: VIGIL_NOT_ROOT: Vigil must run as root (run it with sudo, or as root)\n');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} detaches every program and flushes the export file`, async (t) => {
    const before = new Set(vigilPrograms());
    const agent = await startAgent();
    const ours = vigilPrograms().filter((id) => !before.has(id));
    t.ok(ours.length >= 3, 'the process sensor is attached');
    const marker = `flush-${signal}-${Date.now()}`;
    await runCommand(realpathSync('/bin/echo'), [marker]);
    agent.child.kill(signal);
    t.equal(await agent.stop(), 0, 'exits 0');
    // The kernel frees a program after an RCU grace period: allow it a moment.
    let left = vigilPrograms().filter((id) => ours.includes(id));
    for (let i = 0; i < 50 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = vigilPrograms().filter((id) => ours.includes(id));
    }
    t.same(left, [], 'none of its programs is left in the kernel');
    t.ok(agent.events().some((e) => e.process_exit?.process.arguments === marker), 'the last events reached the file');
    t.match(agent.stderr(), /"msg":"stopped"/);
  });
}
