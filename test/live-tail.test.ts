// A person at a terminal: compact lines on stdout, `vigil events` tailing
// the running agent with filters, and `vigil status`.
// Kernel-independent: the CLI, the control socket and the compact format, in user space.
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, runCommand, completeLines, VIGIL, NODE_NAME, type AgentHandle } from './lib/agent.js';
import { request } from '../agent/control/client.js';
import { lacking, SLOWDOWN } from './lib/kernel.js';

const ECHO = realpathSync('/bin/echo');
const SH = realpathSync('/bin/sh');

let agent: AgentHandle;
t.before(async () => {
  agent = await startAgent(['--output', 'compact']);
});
t.teardown(() => agent.stop());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 20_000 * SLOWDOWN): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function subscribers(): Promise<number> {
  let line = '';
  await request(agent.socket, { op: 'status' }, (l) => (line = l));
  return JSON.parse(line).control.subscribers;
}

/** Starts `vigil events …`; resolves once it is subscribed, with its growing stdout. */
async function tail(args: string[]) {
  const already = await subscribers();
  const c = spawn(process.execPath, [VIGIL, 'events', '--socket', agent.socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const end = Date.now() + 30_000 * SLOWDOWN;
  while ((await subscribers()) <= already) {
    if (Date.now() > end || c.exitCode !== null) throw new Error(`vigil events did not subscribe: ${err}`);
    await sleep(100);
  }
  const exited = new Promise((r) => c.once('exit', r));
  // Stopped, it is gone from the agent's subscribers before the next tail counts them.
  const stop = async (): Promise<void> => {
    const n = await subscribers();
    c.kill('SIGINT');
    await exited;
    const until = Date.now() + 10_000 * SLOWDOWN;
    while ((await subscribers()) >= n && Date.now() < until) await sleep(50);
  };
  return { out: () => out, err: () => err, stop };
}

t.test('the agent prints compact lines for exec and exit', async (t) => {
  const marker = `compact-${Date.now()}`;
  await runCommand(ECHO, [marker]);
  await runCommand(SH, ['-c', `exit 5 # ${marker}`]);
  await until(() => agent.stdout().includes(`${SH} -c "exit 5 # ${marker}" 5`), 'compact exit line');
  const out = agent.stdout();
  t.ok(out.includes(`🚀 process ${NODE_NAME} ${ECHO} ${marker}\n`), 'exec line');
  t.ok(out.includes(`💥 exit    ${NODE_NAME} ${ECHO} ${marker} 0\n`), 'exit line with status 0');
  t.ok(out.includes(`💥 exit    ${NODE_NAME} ${SH} -c "exit 5 # ${marker}" 5\n`), 'exit line with status 5');
});

t.test('vigil events tails the running agent, filtered by --process and --event-types', async (t) => {
  const live = await tail(['--process', 'echo$', '--event-types', 'process_exec']);
  const marker = `tail-${Date.now()}`;
  await runCommand(ECHO, [marker]);
  await runCommand(SH, ['-c', `true ${marker}`]);
  await until(() => live.out().includes(marker), 'tailed echo line');
  await sleep(300);
  await live.stop();
  const lines = live.out().split('\n').filter(Boolean);
  t.ok(lines.includes(`🚀 process ${NODE_NAME} ${ECHO} ${marker}`), 'the echo exec is shown');
  t.notOk(lines.some((l) => l.includes(SH) && l.includes(marker)), 'sh does not match --process');
  t.notOk(lines.some((l) => l.startsWith('💥')), 'exits are filtered out by --event-types');
});

t.test('vigil events -o json --pid shows one process as Tetragon JSON', async (t) => {
  const child = spawn(realpathSync('/bin/sleep'), ['30'], { stdio: 'ignore' });
  const pid = child.pid!;
  const live = await tail(['-o', 'json', '--pid', String(pid)]);
  await runCommand(ECHO, ['not-this-one']);
  const died = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await died;
  await until(() => completeLines(live.out()).some((l) => l.includes('"process_exit"')), 'exit of the watched pid');
  await live.stop();
  const events = completeLines(live.out()).map((l) => JSON.parse(l));
  t.ok(events.length >= 1);
  for (const ev of events) t.equal((ev.process_exec ?? ev.process_exit).process.pid, pid, 'only the watched pid');
  const exit = events.find((ev) => ev.process_exit)!.process_exit;
  t.equal(exit.signal, 'SIGKILL');
  t.equal(exit.process.binary, realpathSync('/bin/sleep'));
});

t.test("vigil events --input reads the agent's export back as tetra getevents does: event names in capitals, policy names, timestamps, colours", { skip: await lacking(['tracepoints', 'ring_buffer']) }, async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-input-')));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, `opened-${Date.now()}`);
  writeFileSync(target, 'x\n');
  const policy = join(dir, 'opens.yaml');
  writeFileSync(policy, [
    'apiVersion: cilium.io/v1alpha1', 'kind: TracingPolicy', 'metadata: {name: live-tail-opens}', 'spec:', '  kprobes:',
    '  - call: sys_openat', '    syscall: true', '    args: [{index: 0, type: int}, {index: 1, type: string}]',
    '    selectors:', `    - matchArgs: [{index: 1, operator: Equal, values: ["${target}"]}]`, '',
  ].join('\n'));
  const add = await runCommand(process.execPath, [VIGIL, 'policy', 'add', policy, '--socket', agent.socket]);
  t.equal(add.code, 0, 'the policy loads');
  t.teardown(() => runCommand(process.execPath, [VIGIL, 'policy', 'delete', 'live-tail-opens', '--socket', agent.socket]));
  const cat = await runCommand(realpathSync('/bin/cat'), [target]);
  const echo = await runCommand(ECHO, [`input-${cat.pid}`]);
  await agent.waitFor((ev) => ev.process_kprobe?.process.pid === cat.pid, 'the openat of the target');
  await agent.waitFor((ev) => ev.process_exit?.process.pid === echo.pid, 'the exit of echo');
  const exported = join(dir, 'export.json');
  writeFileSync(exported, `${completeLines(readFileSync(agent.exportFile, 'utf8')).join('\n')}\n{"not": "an event"}\n`);
  const events = (...args: string[]): { out: string[]; err: string } => {
    const r = spawnSync(process.execPath, [VIGIL, 'events', '--input', exported, ...args], { encoding: 'utf8' });
    return { out: r.stdout.split('\n').filter(Boolean), err: r.stderr };
  };

  const opens = events('-e', 'PROCESS_KPROBE', '--policy-names', 'other,live-tail-opens');
  t.same(opens.out, [`📬️ openat  ${NODE_NAME} ${realpathSync('/bin/cat')} ${target}`], "the policy's one event, by Tetragon's event type name");
  t.match(opens.err, /skipped 1 not an event/, 'a line that is not an event is counted, not fatal');
  t.same(events('--policy-names', 'other').out, [], 'no event of another policy');

  const stamped = events('--timestamps', '--process', 'echo$', '-e', 'PROCESS_EXEC,process_exit').out.filter((l) => l.includes(`input-${cat.pid}`));
  t.equal(stamped.length, 2, 'exec and exit, each once');
  t.match(stamped[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z 🚀 process ${NODE_NAME} ${ECHO} input-${cat.pid}$`), 'UTC time with nine fraction digits, then the line');

  const stdin = execFileSync(process.execPath, [VIGIL, 'events', '--input', '-', '--color', 'always', '--pid', String(echo.pid), '-e', 'PROCESS_EXEC'], { input: readFileSync(exported), encoding: 'utf8' });
  const painted = `\x1b[34m🚀 process\x1b[0m \x1b[32m${NODE_NAME}\x1b[0m \x1b[35m${ECHO}\x1b[0m \x1b[36minput-${cat.pid}\x1b[0m`;
  t.equal(stdin.split('\n')[0].replace(/ +\x1b\[35m\x1b\[0m$/, ''), painted, 'read from stdin, painted as Tetragon paints it');
  t.match(stdin.split('\n')[0], / {2,}\x1b\[35m\x1b\[0m$/, 'and padded before its (empty, painted) capability trailer, as Tetragon does');
  t.notMatch(events('-e', 'PROCESS_EXEC', '--color', 'auto').out.join('\n'), /\x1b\[/, 'auto: no colour into a pipe');
});

t.test('vigil status reports programs, counters and zero lost events', async (t) => {
  const r = await runCommand(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket]);
  t.equal(r.code, 0);
  const s = JSON.parse(r.stdout);
  t.equal(s.node_name, NODE_NAME);
  t.same(s.programs.map((p: { program: string }) => p.program), ['vigil_exec', 'vigil_fork', 'vigil_exit']);
  t.equal(s.lost_events, 0);
  t.ok(s.programs[0].emitted > 0, 'exec records were emitted');
  const text = await runCommand(process.execPath, [VIGIL, 'status', '--socket', agent.socket]);
  t.match(text.stdout, /lost events:\s+0/);
  t.match(text.stdout, /process\/vigil_exec\s+tp_btf\/sched_process_exec/);
});

t.test('vigil status without an agent fails with a one-line error', async (t) => {
  const r = spawn(process.execPath, [VIGIL, 'status', '--socket', '/nonexistent/vigil.sock'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  r.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise((res) => r.once('exit', res));
  t.equal(code, 1);
  t.match(err, /^vigil: VIGIL_AGENT_UNREACHABLE: cannot reach the agent at \/nonexistent\/vigil.sock: ENOENT \(start it with: vigil run\)\n$/);
});
