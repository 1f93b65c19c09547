// A SIEM pipeline built for Tetragon reads Vigil's process fields and
// finds what Tetragon would have written there: capability names of its
// enum, the effective uid, `execve clone` on the exec that follows a fork,
// a parent_exec_id for pid 1, and no field at its default value.
import t from 'tap';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startAgent, runCommand, NODE_NAME, type AgentHandle } from './lib/agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';
import { validateTetragonLine } from './lib/tetragon-schema.js';
import { buildExecForms, buildProgram } from './lib/programs.js';

const ID = realpathSync('/usr/bin/id');
const SH = realpathSync('/bin/sh');
const ECHO = realpathSync('/bin/echo');
const TRUE = realpathSync('/bin/true');
const NOBODY = 65534;

let agent: AgentHandle;
t.before(async () => {
  agent = await startAgent(['--enable-process-cred', '--username-metadata', 'unix']);
});
t.teardown(() => agent.stop());

/** The first name of uid in this machine's /etc/passwd. */
const passwdName = (uid: number): string | undefined =>
  readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[2] === String(uid))?.[0];

const execOf = (pid: number) => (ev: TetragonEvent) => ev.process_exec?.process.pid === pid;

/** Runs cmd as uid/gid 65534; resolves with its pid once it exited. */
function runAsNobody(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { uid: NOBODY, gid: NOBODY, stdio: 'ignore', cwd: '/' });
    c.once('error', reject);
    c.once('exit', () => resolve(c.pid!));
  });
}

t.test('a setuid-root binary run by uid 65534 shows uid 0, the effective uid, and its binary_properties', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-setuid-')));
  chmodSync(dir, 0o755);
  const bin = join(dir, 'id-setuid');
  copyFileSync(ID, bin);
  chownSync(bin, 0, 0);
  chmodSync(bin, 0o4755);
  const pid = await runAsNobody(bin, ['-u']);
  const p = (await agent.waitFor(execOf(pid), 'setuid exec')).process_exec!.process;
  t.equal(p.uid, 0, 'uid is the effective uid');
  t.equal(p.process_credentials?.uid, NOBODY, 'the real uid stays in process_credentials');
  t.equal(p.process_credentials?.euid, 0);
  t.same(p.binary_properties, { setuid: 0, privileges_changed: ['PRIVILEGES_RAISED_EXEC_FILE_SETUID'] });

  const plain = await runAsNobody(ID, ['-u']);
  const q = (await agent.waitFor(execOf(plain), 'plain exec as nobody')).process_exec!.process;
  t.equal(q.uid, NOBODY);
  t.notOk(q.binary_properties, 'an exec that changed nothing has no binary_properties');
  t.notOk(q.cap?.effective, 'an empty capability set is left out');
});

t.test("capabilities carry Tetragon's enum names", async (t) => {
  const r = await runCommand(TRUE, []);
  const ev = await agent.waitFor(execOf(r.pid), 'true exec');
  const line = JSON.stringify(ev);
  const eff = ev.process_exec!.process.cap?.effective ?? [];
  t.ok(eff.includes('DAC_OVERRIDE'), 'bit 1 is DAC_OVERRIDE');
  t.ok(eff.includes('CAP_SYS_ADMIN'));
  t.notMatch(line, /CAP_DAC_OVERRIDE/);
  t.same(validateTetragonLine(line, 'written'), [], 'the line is one Tetragon writes');
});

t.test('an exec after a fork is flagged execve clone; an exec without a fork is not', async (t) => {
  const marker = `noclone-${process.pid}-${Date.now()}`;
  const r = await runCommand(SH, ['-c', `exec ${ECHO} ${marker}`]);
  const evs = agent.events;
  const sh = (await agent.waitFor((e) => e.process_exec?.process.pid === r.pid && e.process_exec.process.binary === SH, 'sh exec')).process_exec!.process;
  const echo = (await agent.waitFor((e) => e.process_exec?.process.arguments === marker, 'echo exec')).process_exec!.process;
  t.equal(sh.flags, 'execve clone', 'node forked, then sh was executed');
  t.equal(echo.pid, r.pid, 'echo replaced sh in the same process');
  t.equal(echo.flags, 'execve', 'no fork before the second exec');
  t.ok(evs().length > 0);
});

t.test('pid 1 has the parent_exec_id of pid 0', async (t) => {
  const init = (await agent.waitFor(execOf(1), 'pid 1 from /proc')).process_exec!.process;
  t.equal(init.parent_exec_id, Buffer.from(`${NODE_NAME}:1:0`).toString('base64'));
});

t.test('fields at their default value are left out: status 0, empty arguments, no ancestors', async (t) => {
  const r = await runCommand(TRUE, []);
  const exec = await agent.waitFor(execOf(r.pid), 'true exec');
  const exit = await agent.waitFor((e) => e.process_exit?.process.pid === r.pid, 'true exit');
  t.notOk('arguments' in exec.process_exec!.process, 'no arguments field');
  t.notOk('status' in exit.process_exit!, 'no status 0');
  t.notOk('signal' in exit.process_exit!);
  t.notOk('ancestors' in exec.process_exec!);
  t.notOk('refcnt' in exit.process_exit!.process, 'no refcnt 0: nothing holds a process without children');
  for (const ev of [exec, exit]) t.same(validateTetragonLine(JSON.stringify(ev), 'written'), []);
  const failing = await runCommand(SH, ['-c', 'exit 3']);
  const x = await agent.waitFor((e) => e.process_exit?.process.pid === failing.pid, 'sh exit');
  t.equal(x.process_exit!.status, 3);
});

t.test('refcnt on an exit: the children the process cache still holds it for', async (t) => {
  const SLEEP = realpathSync('/bin/sleep');
  const r = await runCommand(SH, ['-c', `${SLEEP} 2.777 & ${SLEEP} 2.777 & exit 0`]);
  const exit = await agent.waitFor((e) => e.process_exit?.process.pid === r.pid, 'sh exit');
  t.equal(exit.process_exit!.process.refcnt, 2, 'two children still running');
  const child = await agent.waitFor((e) => e.process_exit?.process.binary === SLEEP && e.process_exit.process.arguments === '2.777', 'a sleep exit');
  t.notOk('refcnt' in child.process_exit!.process, 'a process without children: none');
  t.same(validateTetragonLine(JSON.stringify(exit), 'written'), []);
});

t.test("--username-metadata unix names the uid from the host's /etc/passwd, for processes of the host's user and mount namespaces only", async (t) => {
  const nobody = await runAsNobody(ID, []);
  const asNobody = await agent.waitFor(execOf(nobody), 'id exec as nobody');
  t.same(asNobody.process_exec!.process.user, { name: passwdName(NOBODY) });
  const root = await runCommand(TRUE, []);
  t.same((await agent.waitFor(execOf(root.pid), 'true exec')).process_exec!.process.user, { name: passwdName(0) });
  t.same(validateTetragonLine(JSON.stringify(asNobody), 'written'), []);
  const unshared = await runCommand(realpathSync('/usr/bin/unshare'), ['--mount', '--', TRUE]);
  t.equal(unshared.code, 0, 'unshare ran');
  const inOwnMounts = await agent.waitFor((e) => e.process_exec?.process.binary === TRUE && e.process_exec.process.pid === unshared.pid, 'true in its own mount namespace');
  t.notOk('user' in inOwnMounts.process_exec!.process, "another mount namespace's /etc/passwd is not the host's: no name");
});

t.test("arguments are joined as Tetragon joins them; bytes that are not UTF-8 become one U+FFFD a run", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-args-'));
  const raw = buildProgram('raw-args', dir);
  const marker = `args-${process.pid}-${Date.now()}`;
  const r = await runCommand(raw, [ECHO, marker, 'two words', 'say "hi"', "it's", '', 'tab\there', 'new\nline', 'bad\\xff\\xfebytes', 'cut\\xc3', '']);
  t.equal(r.code, 0);
  const p = (await agent.waitFor((e) => e.process_exec?.process.binary === ECHO && (e.process_exec.process.arguments ?? '').startsWith(marker), 'echo exec')).process_exec!.process;
  t.equal(p.arguments, `${marker} "two words" "say "hi"" it's  tab\there new\nline bad\uFFFDbytes cut\uFFFD`);
  t.equal(p.flags, 'execve', 'raw-args executed echo without a fork');
  const first = await runCommand(raw, [ECHO, 'lead space', marker]);
  const q = (await agent.waitFor((e) => execOf(first.pid)(e) && e.process_exec!.process.binary === ECHO, 'echo exec with a quoted first argument')).process_exec!.process;
  t.equal(q.arguments, ` "lead space" ${marker}`, 'a quoted first argument keeps its leading space, as in Tetragon');
});

t.test('fd and memfd execs name their binary, and a memfd exec is marked fileless in binary_properties', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-fdexec-')));
  const forms = buildExecForms(dir);
  const viaFd = await runCommand(forms, ['execveat-fd', TRUE]);
  t.equal(viaFd.code, 0);
  const fdExec = (await agent.waitFor((e) => execOf(viaFd.pid)(e) && e.process_exec!.process.flags === 'execve', 'execveat(fd, "") exec')).process_exec!.process;
  t.equal(fdExec.binary, TRUE, 'an fd on a file on disk: its path');
  t.notOk(fdExec.binary_properties);

  const viaMemfd = await runCommand(forms, ['memfd', TRUE]);
  t.equal(viaMemfd.code, 0);
  const memEv = await agent.waitFor((e) => execOf(viaMemfd.pid)(e) && e.process_exec!.process.flags === 'execve', 'memfd exec');
  const mem = memEv.process_exec!;
  t.equal(mem.process.binary, '/memfd:vigil-fileless', "the memfd's name, as the kernel shows it in /proc/PID/exe");
  t.equal(mem.process.binary_properties?.file?.inode?.links, 0, 'links: 0, a file only in memory');
  t.match(mem.process.binary_properties?.file?.inode?.number, /^\d+$/);
  t.same(validateTetragonLine(JSON.stringify(memEv), 'written'), []);
});

t.test('in_init_tree: true under the pid 1 of a new pid namespace, false on the host', async (t) => {
  const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));
  if (!UNSHARE) return void t.pass('no unshare(1) on this system');
  const marker = `init-tree-${process.pid}-${Date.now()}`;
  const r = await runCommand(realpathSync(UNSHARE), ['--pid', '--fork', SH, '-c', `${ECHO} ${marker}; true`]);
  t.equal(r.code, 0);
  const sh = (await agent.waitFor((e) => e.process_exec?.process.binary === SH && (e.process_exec.process.arguments ?? '').includes(marker), 'sh as pid 1 of its namespace')).process_exec!.process;
  const echo = (await agent.waitFor((e) => e.process_exec?.process.binary === ECHO && e.process_exec.process.arguments === marker, 'echo under it')).process_exec!.process;
  t.equal(sh.in_init_tree, true, 'pid 1 of the namespace');
  t.equal(echo.in_init_tree, true, 'its child');
  const unshare = (await agent.waitFor(execOf(r.pid), 'unshare on the host')).process_exec!.process;
  t.equal(unshare.in_init_tree, false);
});
