// A careless operator's policy directory: it is deleted and made again, it
// holds a FIFO, a huge or deeply nested file, a broken edit of a loaded
// policy, or a new version that passes lint but cannot load. The agent
// keeps running, answers its socket throughout, keeps enforcing what was
// loaded, and says what is wrong.
// Kernel-independent: the policy directory and policy files handled in user space; loading on each kernel is tested by the policy-* files.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, runCommand, VIGIL, type AgentHandle } from './lib/agent.js';
import { request } from '../agent/control/client.js';
import type { PolicyState } from '../agent/policy/manager.js';
import { SLOWDOWN } from './lib/kernel.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const policy = (name: string, prefix = '/etc/'): string => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ${name}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 1
      type: string
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefix
        values: ["${prefix}"]
`;

async function list(agent: AgentHandle): Promise<PolicyState[]> {
  let line = '';
  await request(agent.socket, { op: 'policy-list' }, (l) => (line = l));
  return JSON.parse(line);
}

/** Milliseconds a status request takes. */
async function statusMs(agent: AgentHandle): Promise<number> {
  const t0 = Date.now();
  await request(agent.socket, { op: 'status' }, () => undefined);
  return Date.now() - t0;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000 * SLOWDOWN): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const named = (name: string) => async (agent: AgentHandle) => (await list(agent)).find((p) => p.name === name);

t.test('rm -rf of the watched directory unloads its policies; made again, they load again', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-pdir-'));
  const dir = join(base, 'policies');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.yaml'), policy('dir-a'));
  const agent = await startAgent(['--policy-dir', dir]);
  t.teardown(async () => { await agent.stop(); rmSync(base, { recursive: true, force: true }); });
  t.equal((await named('dir-a')(agent))?.state, 'loaded');

  rmSync(dir, { recursive: true, force: true });
  await until('dir-a to go', async () => ((await named('dir-a')(agent)) ? undefined : true));
  t.equal(agent.child.exitCode, null, 'the agent is still running');
  t.match(agent.stderr(), /policy directory unreadable, its policies unloaded/);

  mkdirSync(dir);
  writeFileSync(join(dir, 'a.yaml'), policy('dir-a'));
  const back = await until('dir-a to load again', () => named('dir-a')(agent));
  t.equal(back.state, 'loaded', 'the directory is followed again once it is back');
});

t.test('a FIFO, a huge file and a 100k-deep file neither hang nor stall the agent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pdir-'));
  const agent = await startAgent(['--policy-dir', dir]);
  t.teardown(async () => { await agent.stop(); rmSync(dir, { recursive: true, force: true }); });
  execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
  writeFileSync(join(dir, 'huge.yaml'), `${policy('huge')}# ${'x'.repeat(2 << 20)}\n`);
  writeFileSync(join(dir, 'deep.yaml'), `${policy('deep')}  lists: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
  const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: 1`).join('\n');
  writeFileSync(join(dir, 'keys.yaml'), `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: keys\nspec:\n${keys}\n`);
  let worst = 0;
  const states = await until('every file to be judged', async () => {
    worst = Math.max(worst, await statusMs(agent));
    const l = await list(agent);
    return l.filter((p) => p.state === 'error').length >= 4 ? l : undefined;
  }, 120_000 * SLOWDOWN);
  t.ok(worst < 3000 * SLOWDOWN, `status answered within ${worst} ms at worst while the files were checked`);
  const errorOf = (file: string) => states.find((s) => s.file === join(dir, file))?.errors.join('\n') ?? '';
  t.match(errorOf('fifo.yaml'), /not a regular file/);
  t.match(errorOf('huge.yaml'), /holds at most 1048576/);
  t.match(errorOf('deep.yaml'), /nested deeper than Vigil reads/);
  t.match(errorOf('keys.yaml'), /more problems in this document are not listed/);
  const add = await runCommand(process.execPath, [VIGIL, 'policy', 'add', join(dir, 'fifo.yaml'), '--socket', agent.socket]);
  t.equal(add.code, 1, '`vigil policy add` of a FIFO fails, and does not hang');
  t.equal(agent.child.exitCode, null, 'the agent is still running');
});

t.test('a new version that is broken, or lints but cannot load, leaves the running one enforcing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pdir-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, policy('keep-me'));
  const agent = await startAgent(['--policy-dir', dir]);
  t.teardown(async () => { await agent.stop(); rmSync(dir, { recursive: true, force: true }); });
  t.equal((await named('keep-me')(agent))?.state, 'loaded');

  // Passes lint, fails to compile on any kernel: an action Vigil does not run.
  writeFileSync(file, `${policy('keep-me')}      matchActions:\n      - action: DnsLookup\n        argFqdn: example.com\n`);
  const refused = await until('the refusal', async () => ((await named('keep-me')(agent))?.rejected ? (await named('keep-me')(agent)) : undefined));
  t.equal(refused.state, 'loaded', 'the running version stays loaded');
  t.match(refused.rejected!.join('\n'), /p\.yaml:\d+:\d+: spec\.kprobes\[0\]\.selectors\[0\]\.matchActions\[0\]\.action: action "DnsLookup" is not supported/,
    'and says why the new one was refused');

  writeFileSync(file, 'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: keep-me\n');
  await until('the YAML error', async () => (agent.stderr().includes('invalid YAML') ? true : undefined));
  await sleep(500);
  t.equal((await named('keep-me')(agent))?.state, 'loaded', 'a file that no longer parses does not unload what it held');

  writeFileSync(file, policy('keep-me', '/var/'));
  const updated = await until('the good update', async () => {
    const p = await named('keep-me')(agent);
    return p && !p.rejected ? p : undefined;
  });
  t.equal(updated.state, 'loaded', 'a good version replaces it');
});
