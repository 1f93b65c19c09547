// A person at a terminal: compact lines on stdout, `vigil events` tailing
// the running agent with filters, and `vigil status`.
import t from 'tap';
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { startAgent, runCommand, completeLines, VIGIL, NODE_NAME, type AgentHandle } from './lib/agent.js';
import { request } from '../agent/control/client.js';
import { SLOWDOWN } from './lib/kernel.js';

const ECHO = realpathSync('/bin/echo');
const SH = realpathSync('/bin/sh');

let agent: AgentHandle;
t.before(async () => {
  agent = await startAgent(['--output', 'compact']);
});
t.teardown(() => agent.stop());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
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
