// Starting and stopping the agent: a clear one-line error when it cannot
// run, and SIGINT/SIGTERM detach every program and flush the exports.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, runCommand, VIGIL } from './lib/agent.js';
import { startPolicyAgent } from './lib/policy-agent.js';
import { BpfObject } from '../kernel/bpf/object.js';
import { bpfObjectPath } from '../kernel/bpf/paths.js';

/** Ids of the Vigil programs in the kernel (other agents' included). */
function vigilPrograms(): number[] {
  const out = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  return out.filter((p) => p.name?.startsWith('vigil_')).map((p) => p.id);
}

/** Ids of the BPF programs a process holds a file descriptor of. */
function heldPrograms(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return ids;
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
    const agent = await startAgent();
    // Other agents may run beside this test: ours are the programs this agent holds open.
    const held = heldPrograms(agent.child.pid!);
    const ours = vigilPrograms().filter((id) => held.has(id));
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

t.test('libbpf\'s messages stay the main thread\'s while the policy checker\'s thread runs, and after it is gone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lifecycle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, 'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: { name: p }\nspec:\n  tracepoints: [{ subsystem: sched, event: sched_process_fork }]\n');
  const first = await startPolicyAgent({ policies: [file] });
  // The checker's thread has read the kernel's BTF through libbpf by now.
  const failing = (): void => {
    BpfObject.open(bpfObjectPath('generic_tracepoint')).setMaxEntries('vigil_int_eq', 0).load();
  };
  t.throws(failing, { code: 'VIGIL_BPF_LOAD', log: /map 'vigil_int_eq': failed to create/ }, 'a failed load carries libbpf\'s words');
  await first.stop();
  t.throws(failing, { code: 'VIGIL_BPF_LOAD', log: /failed to create/ }, 'and still does with the checker\'s thread gone');
  const second = await startPolicyAgent({ policies: [file] });
  t.match(second.agent.status(), { policies: [{ name: 'p', state: 'loaded' }] }, 'a second agent in the same process loads its policies');
  await second.stop();
});
