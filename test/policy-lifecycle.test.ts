// An operator drops TracingPolicy files into a watched directory: they
// load, enforce, change and unload with the files; a broken one is
// reported and skipped while the agent and the other policies keep running.
import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tryConnect } from './lib/net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, runCommand, VIGIL, type AgentHandle } from './lib/agent.js';
import { request } from '../agent/control/client.js';
import { lacking, SLOWDOWN } from './lib/kernel.js';
import type { PolicyState } from '../agent/policy/manager.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function denyPolicy(name: string, port: number): string {
  return `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ${name}
spec:
  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: sock
    selectors:
    - matchArgs:
      - index: 0
        operator: DAddr
        values: ["127.0.0.2/32"]
      - index: 0
        operator: DPort
        values: ["${port}"]
      matchActions:
      - action: Override
        argError: -1
`;
}

async function policies(agent: AgentHandle): Promise<PolicyState[]> {
  let line = '';
  await request(agent.socket, { op: 'policy-list' }, (l) => (line = l));
  return JSON.parse(line);
}

async function until<T>(get: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const end = Date.now() + 20_000 * SLOWDOWN;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}: ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

t.test('a policy directory is followed: add, enforce, break, change, remove', { skip: await lacking(['cgroup_hooks']) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-policies-'));
  const server: Server = createServer((c) => c.end());
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const agent = await startAgent(['--policy-dir', dir]);
  t.teardown(() => agent.stop());

  t.equal(await tryConnect('127.0.0.2', port), 'connected', 'allowed before any policy');

  writeFileSync(join(dir, 'deny.yaml'), denyPolicy('deny-test-egress', port));
  const loaded = await until(() => policies(agent), (ps) => ps.some((p) => p.name === 'deny-test-egress'), 'policy loaded');
  const p = loaded.find((x) => x.name === 'deny-test-egress')!;
  t.equal(p.state, 'loaded');
  t.match(p.hooks[0], { path: 'spec.kprobes[0]', mechanism: 'cgroup_connect', enforcement: 'override', state: 'loaded' });
  t.equal(await tryConnect('127.0.0.2', port), 'EPERM', 'the kernel refuses the connect');
  t.equal(await tryConnect('127.0.0.1', port), 'connected', 'other destinations are untouched');
  const after = (await policies(agent)).find((x) => x.name === 'deny-test-egress')!;
  t.ok(after.hooks[0].matches >= 1, `the denial is counted (${after.hooks[0].matches})`);

  writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: broken\nspec:\n  kprobes:\n  - call: tcp_connect\n    selectors:\n    - matchArgz: []\n');
  const withBroken = await until(() => policies(agent), (ps) => ps.some((x) => x.file.endsWith('broken.yaml')), 'broken policy reported');
  const broken = withBroken.find((x) => x.file.endsWith('broken.yaml'))!;
  t.equal(broken.state, 'error');
  t.match(broken.errors.join('\n'), /broken\.yaml:9:\d+: spec\.kprobes\[0\]\.selectors\[0\]/, 'the error names file, line and field');
  t.equal(await tryConnect('127.0.0.2', port), 'EPERM', 'the good policy keeps enforcing');
  t.equal(agent.child.exitCode, null, 'the agent keeps running');

  writeFileSync(join(dir, 'deny.yaml'), denyPolicy('deny-test-egress', port + 1));
  await until(() => tryConnect('127.0.0.2', port), (r) => r === 'connected', 'changed policy no longer covers the port');

  rmSync(join(dir, 'deny.yaml'));
  await until(() => policies(agent), (ps) => !ps.some((x) => x.name === 'deny-test-egress'), 'policy removed with its file');
});

t.test('vigil policy add, list and delete talk to the running agent', { skip: await lacking(['cgroup_hooks']) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-policy-add-'));
  const server: Server = createServer((c) => c.end());
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const file = join(dir, 'added.yaml');
  writeFileSync(file, denyPolicy('added-egress', port));

  const vigil = (...args: string[]) => runCommand(process.execPath, [VIGIL, 'policy', ...args, '--socket', agent.socket]);
  const add = await vigil('add', file);
  t.equal(add.code, 0);
  t.match(add.stdout, /^added-egress  loaded  .*added\.yaml\n  spec\.kprobes\[0\]  cgroup_connect \S+  enforcement: override  matches: 0  lost: 0  undecided: 0\n    why: cgroup\/connect4/);
  t.equal(await tryConnect('127.0.0.2', port), 'EPERM');
  const list = await vigil('list', '--json');
  t.match(JSON.parse(list.stdout), [{ name: 'added-egress', state: 'loaded', hooks: [{ mechanism: 'cgroup_connect', matches: 1 }] }]);
  const del = await vigil('delete', 'added-egress');
  t.equal(del.stdout, 'deleted added-egress\n');
  t.equal((await vigil('delete', 'added-egress')).code, 1, 'deleting it twice fails');
  t.equal(await tryConnect('127.0.0.2', port), 'connected', 'detached with the policy');
});
