// The export file rotated by the agent, as Tetragon's --export-file-* flags
// rotate it: by size and by time into timestamped backups, the oldest
// removed past --export-file-max-backups, the others gzipped, every file
// with the mode of --export-file-perm, and never half a line in any of them.
// Kernel-independent: rotation of the export file, in user space.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { startAgent, runCommand, VIGIL } from './lib/agent.js';
import { fileLines, tetragonLineErrors } from './lib/export-lines.js';
import { request } from '../agent/control/client.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ECHO = realpathSync('/bin/echo');
const BACKUP = /^events-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log(\.gz)?$/;

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function fileStats(socket: string): Promise<Record<string, number | string>> {
  let line = '';
  await request(socket, { op: 'status' }, (l) => (line = l));
  return (JSON.parse(line).exporters as Record<string, number | string>[]).find((e) => e.name === 'json-file')!;
}

const backups = (dir: string): string[] => readdirSync(dir).filter((n) => BACKUP.test(n)).sort();
const markers = (lines: string[], prefix: string): number[] => lines
  .map((l) => JSON.parse(l) as TetragonEvent)
  .map((e) => e.process_exec?.process.arguments ?? '')
  .filter((a) => a.startsWith(prefix))
  .map((a) => Number(a.slice(prefix.length)));

t.test('by size: backups named as lumberjack names them, the newest kept, gzipped, whole lines, the mode of --export-file-perm', async (t) => {
  // Credentials make the lines long enough that 1500 execs fill three files of 1 MiB.
  const agent = await startAgent(['--export-file-max-size-mb', '1', '--export-file-max-backups', '2', '--export-file-compress', '--export-file-perm', '640', '--enable-process-cred']);
  t.teardown(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  const N = 1500;
  const r = spawnSync('/bin/sh', ['-c', `i=0; while [ $i -lt ${N} ]; do ${ECHO} rot-$i; i=$((i+1)); done`], { stdio: 'ignore', timeout: 300_000 });
  t.equal(r.status, 0);
  // Between the rename and the new file's open, the agent is rotating: there is no file to read.
  const current = (): string[] => (existsSync(agent.exportFile) ? fileLines(agent.exportFile) : []);
  await until('the last marker in the file', () => markers(current(), 'rot-').includes(N - 1), 300_000);
  const stats = await fileStats(agent.socket);
  t.ok(Number(stats.rotations) >= 2, `rotated ${stats.rotations} times for ${N} execs and their exits at 1 MiB`);
  // Stopped, the agent writes no more and its last mill has run: the files hold still to be read.
  await agent.stop();
  const names = backups(agent.dir);
  t.equal(names.length, 2, `two backups kept: ${names.join(', ')}`);
  t.ok(names.every((n) => n.endsWith('.log.gz')), 'both gzipped');
  t.ok(!readdirSync(agent.dir).some((n) => n.endsWith('.tmp')), 'no compression left half done');
  let seen: number[] = [];
  for (const name of [...names, 'events.log']) {
    const path = join(agent.dir, name);
    t.equal(statSync(path).mode & 0o777, 0o640, `${name} has mode 640`);
    const raw = name.endsWith('.gz') ? gunzipSync(readFileSync(path)) : readFileSync(path);
    t.ok(raw.length <= 1 << 20, `${name}: ${raw.length} bytes, at most 1 MiB`);
    t.ok(raw.length === 0 || raw[raw.length - 1] === 0x0a, `${name} ends with a whole line`);
    const lines = fileLines(path);
    const bad = lines.flatMap((l) => tetragonLineErrors(l)).slice(0, 5);
    t.same(bad, [], `${name}: ${lines.length} lines, each a Tetragon event line`);
    seen = seen.concat(markers(lines, 'rot-'));
  }
  // The kept files hold the newest markers with no gap between files: nothing fell between a file and its backup.
  const first = seen[0];
  t.same(seen, Array.from({ length: N - first }, (_, i) => first + i), `markers ${first}..${N - 1} in order across the backups and the file`);
  t.ok(first > 0, 'older backups were removed');
});

t.test('by time: --export-file-rotation-interval rotates a file that has events', async (t) => {
  const agent = await startAgent(['--export-file-rotation-interval', '2s', '--export-file-max-backups', '0']);
  t.teardown(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  const a = `interval-a-${Date.now()}`;
  await runCommand(ECHO, [a]);
  await until('a backup with the first marker', () => backups(agent.dir)
    .some((n) => fileLines(join(agent.dir, n)).some((l) => l.includes(`"arguments":"${a}"`))), 30_000);
  const b = `interval-b-${Date.now()}`;
  await runCommand(ECHO, [b]);
  await until('the second marker in the file', () => fileLines(agent.exportFile).some((l) => l.includes(`"arguments":"${b}"`)), 30_000);
  t.ok(backups(agent.dir).every((n) => !n.endsWith('.gz')), 'no backup is gzipped without --export-file-compress');
});

t.test('SIGHUP and an outside rename still reopen the file when the agent rotates it too', async (t) => {
  const agent = await startAgent(['--export-file-max-size-mb', '1']);
  t.teardown(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  renameSync(agent.exportFile, join(agent.dir, 'logrotated.1'));
  agent.child.kill('SIGHUP');
  await sleep(300);
  const m = `after-hup-${Date.now()}`;
  await runCommand(ECHO, [m]);
  await until('the marker in the reopened file', () => existsSync(agent.exportFile) && fileLines(agent.exportFile).some((l) => l.includes(m)));
  t.notOk(fileLines(join(agent.dir, 'logrotated.1')).some((l) => l.includes(m)), 'nothing more goes to the renamed file');
});

t.test('bad rotation flags stop the start with one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rotflags-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string[], RegExp][] = [
    [['--export-file-perm', '4755'], /--export-file-perm takes an octal file mode/],
    [['--export-file-rotation-interval', '5x'], /--export-file-rotation-interval takes a duration/],
    [['--export-file-max-size-mb', '-1'], /--export-file-max-size-mb takes a whole number/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [VIGIL, 'run', '--export-file', join(dir, 'e.log'), '--output', 'none', '--socket', join(dir, 's.sock'), ...args],
      { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 1, args.join(' '));
    t.match(r.stderr, re);
    t.match(r.stderr, /^vigil: VIGIL_USAGE: /m);
  }
});
