// A user runs `vigil run`; every process shows up from exec to exit, with
// correct parents, arguments, binaries and exit statuses.
import t from 'tap';
import { mkdtempSync, copyFileSync, symlinkSync, realpathSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startAgent, runCommand, decodeExecId, NODE_NAME, type AgentHandle } from './lib/agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const TRUE = realpathSync('/bin/true');
const ECHO = realpathSync('/bin/echo');
const SH = realpathSync('/bin/sh');
const SLEEP = realpathSync('/bin/sleep');

let agent: AgentHandle;
let early: ReturnType<typeof spawn>;

t.before(async () => {
  // Started before the agent: it must be reported from /proc, flagged procFS.
  early = spawn(SLEEP, ['300'], { stdio: 'ignore' });
  agent = await startAgent();
});
t.teardown(async () => {
  early.kill('SIGKILL');
  await agent.stop();
});

const execOf = (pid: number) => (ev: TetragonEvent) => ev.process_exec?.process.pid === pid;
const exitOf = (pid: number) => (ev: TetragonEvent) => ev.process_exit?.process.pid === pid;

t.test('a process started before the agent is reported from /proc with procFS', async (t) => {
  const ev = await agent.waitFor(execOf(early.pid!), 'procFS exec of the early sleep');
  const p = ev.process_exec!.process;
  t.match(p.flags, /\bprocFS\b/);
  t.equal(p.binary, SLEEP);
  t.equal(p.arguments, '300');
  t.equal(decodeExecId(p.exec_id).pid, early.pid);
});

t.test('a nested sh -c chain gives correct parent links and exec ids', async (t) => {
  const marker = `chain-${process.pid}-${Date.now()}`;
  const r = await runCommand(SH, ['-c', `${SH} -c "${ECHO} ${marker}"`]);
  t.equal(r.code, 0);
  const echo = (await agent.waitFor((e) => e.process_exec?.process.binary === ECHO && e.process_exec.process.arguments === marker, 'echo exec')).process_exec!;
  const inner = (await agent.waitFor((e) => e.process_exec?.process.exec_id === echo.process.parent_exec_id, 'inner sh exec')).process_exec!;
  const outer = (await agent.waitFor(execOf(r.pid), 'outer sh exec')).process_exec!;

  t.equal(outer.process.binary, SH);
  t.equal(inner.process.binary, SH);
  t.equal(inner.process.parent_exec_id, outer.process.exec_id, 'inner sh is the child of outer sh');
  t.same(echo.parent, inner.process, 'the exec event carries the parent process');
  t.equal(outer.parent?.pid, process.pid, 'outer sh is the child of this test');
  for (const p of [echo.process, inner.process, outer.process]) {
    const id = decodeExecId(p.exec_id);
    t.equal(id.node, NODE_NAME);
    t.equal(id.pid, p.pid);
    t.match(id.ktime, /^\d+$/);
  }
  t.not(echo.process.exec_id, inner.process.exec_id);
  t.match(echo.process.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
});

t.test('arguments with spaces and quotes survive', async (t) => {
  const args = ['plain', 'two words', 'say "hi"', "it's", '', 'back\\slash'];
  const r = await runCommand(ECHO, args);
  const p = (await agent.waitFor(execOf(r.pid), 'echo exec')).process_exec!.process;
  t.equal(p.arguments, 'plain "two words" "say "hi"" it\'s  back\\slash', "Tetragon's joining: quotes around an argument with a space, nothing escaped");
  t.notMatch(p.flags, /truncArgs/);
});

t.test('arguments longer than the capture limit are cut and flagged truncArgs', async (t) => {
  const long = 'x'.repeat(6000);
  const r = await runCommand(ECHO, [long]);
  const p = (await agent.waitFor(execOf(r.pid), 'long echo exec')).process_exec!.process;
  t.match(p.flags, /\btruncArgs\b/);
  const cut = p.arguments ?? '';
  t.ok(cut.length < long.length && cut.length > 3000, `arguments cut to ${cut.length} bytes`);
});

t.test('relative and symlinked execs report the resolved absolute binary', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-bin-')));
  copyFileSync(TRUE, join(dir, 'my-true'));
  chmodSync(join(dir, 'my-true'), 0o755);
  symlinkSync(TRUE, join(dir, 'link-to-true'));

  const rel = await runCommand('./my-true', [], { cwd: dir });
  const relP = (await agent.waitFor(execOf(rel.pid), 'relative exec')).process_exec!.process;
  t.equal(relP.binary, join(dir, 'my-true'));
  t.equal(relP.cwd, dir);

  const link = await runCommand('./link-to-true', [], { cwd: dir });
  const linkP = (await agent.waitFor(execOf(link.pid), 'symlink exec')).process_exec!.process;
  t.equal(linkP.binary, TRUE, 'the symlink is resolved to its target');
});

t.test('a non-zero exit status is reported', async (t) => {
  const r = await runCommand(SH, ['-c', 'exit 7']);
  t.equal(r.code, 7);
  const x = (await agent.waitFor(exitOf(r.pid), 'exit of sh')).process_exit!;
  t.equal(x.status, 7);
  t.notOk(x.signal);
  t.equal(x.process.binary, SH);
  t.equal(x.parent?.pid, process.pid);
});

t.test('death by a signal is reported', async (t) => {
  const c = spawn(SLEEP, ['60'], { stdio: 'ignore' });
  await agent.waitFor(execOf(c.pid!), 'sleep exec');
  const died = new Promise((r) => c.once('exit', (_code, sig) => r(sig)));
  c.kill('SIGKILL');
  t.equal(await died, 'SIGKILL');
  const x = (await agent.waitFor(exitOf(c.pid!), 'exit of sleep')).process_exit!;
  t.equal(x.signal, 'SIGKILL');
  t.equal(x.process.binary, SLEEP);

  const term = await runCommand(SH, ['-c', 'kill -TERM $$']);
  t.equal(term.signal, 'SIGTERM');
  const tx = (await agent.waitFor(exitOf(term.pid), 'exit of self-terminated sh')).process_exit!;
  t.equal(tx.signal, 'SIGTERM');
});

t.test('a forked child that never execs exits as a clone of its parent', async (t) => {
  const r = await runCommand(SH, ['-c', '( exit 3 ); exit 0']);
  const shExec = (await agent.waitFor(execOf(r.pid), 'sh exec')).process_exec!.process;
  const sub = (await agent.waitFor((e) => e.process_exit?.process.parent_exec_id === shExec.exec_id && e.process_exit.status === 3, 'subshell exit')).process_exit!;
  t.match(sub.process.flags, /\bclone\b/);
  t.equal(sub.process.binary, SH);
  t.not(sub.process.pid, r.pid);
});

t.test('every event carries node_name and time; credentials and capabilities only with --enable-process-cred', async (t) => {
  const r = await runCommand(TRUE, []);
  const ev = await agent.waitFor(execOf(r.pid), 'true exec');
  t.equal(ev.node_name, NODE_NAME);
  t.match(ev.time, /Z$/);
  const p = ev.process_exec!.process;
  t.notOk('process_credentials' in p || 'cap' in p, 'off by default, as in Tetragon');
  t.equal(p.uid, 0);
  t.equal(p.tid, p.pid);
  const x = await agent.waitFor(exitOf(r.pid), 'true exit');
  t.equal(x.process_exit!.process.exec_id, p.exec_id, 'exec and exit name the same process');
  t.ok(x.process_exit!.time);
});
