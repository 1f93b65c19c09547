// kill -9 of the agent with a Sigkill policy and a connect deny loaded:
// both keep enforcing while it is down, because their programs (and the
// process sensor they read) are pinned in bpffs; a restarted agent adopts
// them without attaching twice and without a gap; `vigil policy delete`
// and `vigil run --cleanup` remove them.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, runCommand, cleanupPins, VIGIL, REPO } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { listen, tryConnect } from './lib/net.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ids of the programs behind the links pinned under dir: this test's agent's, whatever other tests run beside it. */
function pinnedPrograms(dir: string): number[] {
  const ids = new Set<number>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (!e.name.startsWith('map-')) {
        const r = spawnSync('bpftool', ['link', 'show', 'pinned', path, '--json'], { encoding: 'utf8' });
        if (r.status === 0) ids.add((JSON.parse(r.stdout) as { prog_id: number }).prog_id);
      }
    }
  };
  walk(dir);
  return [...ids].sort((a, b) => a - b);
}

const killPolicy = (victim: string): string => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: kill-victim
spec:
  kprobes:
  - call: sys_execve
    syscall: true
    args:
    - index: 0
      type: string
    selectors:
    - matchArgs:
      - index: 0
        operator: Equal
        values: ["${victim}"]
      matchActions:
      - action: Sigkill
`;

t.test('enforcement outlives a kill -9 of the agent, and a restart adopts it', { skip: await lacking(['bpf_send_signal', 'cgroup_hooks']) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pin-'));
  const victim = join(dir, 'victim');
  copyFileSync(realpathSync('/bin/true'), victim);
  chmodSync(victim, 0o755);
  const kill = join(dir, 'kill.yaml');
  writeFileSync(kill, killPolicy(victim));
  const deny = join(dir, 'deny.yaml');
  writeFileSync(deny, readFileSync(join(REPO, 'policies/library/deny-egress-cidr.yaml'), 'utf8').replace('192.0.2.0/24', '127.0.0.3/32'));
  const { server, port } = await listen('127.0.0.3');
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const enforced = async (): Promise<{ killed: boolean; denied: boolean }> => ({
    killed: (await runCommand(victim, [])).signal === 'SIGKILL',
    denied: (await tryConnect('127.0.0.3', port)) === 'EPERM',
  });

  const args = ['--policy', kill, '--policy', deny];
  const first = await startAgent(args);
  t.teardown(() => first.stop());
  t.same(await enforced(), { killed: true, denied: true }, 'the agent enforces both');
  const loaded = pinnedPrograms(first.pinDir);
  t.ok(loaded.length >= 3, 'the process sensor, the kill and the deny are pinned');

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  await sleep(500);
  t.ok(existsSync(first.pinDir), 'its pins stay');
  t.same(await enforced(), { killed: true, denied: true }, 'with the agent dead, both still enforce');

  // Restart on the same pins, while something keeps trying: no attempt may get through.
  let attempts = 0;
  let escaped = 0;
  let trying = true;
  const loop = (async () => {
    while (trying) {
      const r = await enforced();
      attempts++;
      if (!r.killed || !r.denied) escaped++;
      await sleep(50);
    }
  })();
  const second = await startAgent([...args, '--pin-dir', first.pinDir, '--socket', first.socket]);
  t.teardown(() => second.stop());
  trying = false;
  await loop;
  t.equal(escaped, 0, `none of ${attempts} attempts during the restart got through`);
  t.match(second.stderr(), /adopted the pinned process sensor/);
  t.equal((second.stderr().match(/hook adopted from its pins/g) ?? []).length, 2, 'both hooks are adopted');
  t.same(pinnedPrograms(first.pinDir), loaded, 'the same programs run: nothing was attached twice');
  t.same(await enforced(), { killed: true, denied: true }, 'and they still enforce');

  const del = await runCommand(process.execPath, [VIGIL, 'policy', 'delete', 'kill-victim', '--socket', first.socket]);
  t.equal(del.code, 0);
  await sleep(300);
  t.equal((await runCommand(victim, [])).code, 0, 'vigil policy delete removes the pinned kill');

  second.child.kill('SIGKILL');
  await new Promise((r) => second.child.once('exit', r));
  t.equal(await tryConnect('127.0.0.3', port), 'EPERM', 'the deny outlives the second agent too');
  cleanupPins(first.pinDir, first.socket);
  await sleep(300);
  t.not(await tryConnect('127.0.0.3', port), 'EPERM', 'vigil run --cleanup removes it');
  t.notOk(existsSync(first.pinDir), 'and its pins');
  const r = spawnSync('bpftool', ['prog', 'show'], { encoding: 'utf8' });
  t.same(loaded.filter((id) => new RegExp(`^${id}:`, 'm').test(r.stdout)), [], 'none of the pinned programs is left in the kernel');
});
