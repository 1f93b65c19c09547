// The export file when its sink misbehaves: the disk fills up and frees
// again, the file is deleted or renamed under the agent (logrotate without
// copytruncate, then SIGHUP), the directory cannot be written at start.
// Every line that reaches the file is whole JSON, nothing is lost without
// being counted, and the agent recovers on its own.
// Kernel-independent: the export file and its sink, in user space.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { SLOWDOWN } from './lib/kernel.js';
import { startAgent, runCommand, VIGIL, completeLines } from './lib/agent.js';
import { request } from '../agent/control/client.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TRUE = realpathSync('/bin/true');
const ECHO = realpathSync('/bin/echo');

/** The whole lines of a file the agent may be writing, parsed: any of them that is not JSON fails the test. */
function lines(file: string): TetragonEvent[] {
  return completeLines(readFileSync(file, 'utf8')).map((l) => JSON.parse(l) as TetragonEvent);
}

/** Once the agent has stopped: the file ends with a whole line. */
function endsWhole(file: string): boolean {
  const text = readFileSync(file, 'utf8');
  return text === '' || text.endsWith('\n');
}

async function exporterStats(socket: string): Promise<Record<string, number | string>> {
  let line = '';
  await request(socket, { op: 'status' }, (l) => (line = l));
  return (JSON.parse(line).exporters as Record<string, number | string>[]).find((e) => e.name === 'json-file')!;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 30_000 * SLOWDOWN): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

t.test('a full disk: whole lines only, events counted while it is full, and writing resumes when space is back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir]);
  const file = join(dir, 'events.log');
  const agent = await startAgent(['--export-file', file]);
  t.teardown(async () => {
    await agent.stop();
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  // Fill the disk: the agent's next write finds no room.
  spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=64k', 'count=1000'], { stdio: 'ignore' });
  for (let i = 0; i < 300; i++) await runCommand(ECHO, [`full-disk-${i}`]);
  await until('a failed write', async () => Number((await exporterStats(agent.socket)).write_errors) > 0);
  t.match(agent.stderr(), /cannot write the export file/, 'the failure is logged');
  t.ok(lines(file), 'every whole line is JSON while the disk is full');
  t.equal(agent.child.exitCode, null, 'the agent keeps running');

  unlinkSync(join(dir, 'filler'));
  const marker = `after-free-${Date.now()}`;
  await runCommand(ECHO, [marker]);
  await until('the marker in the file', () => lines(file).some((e) => e.process_exec?.process.arguments === marker));
  // The log line follows the write; the agent's stderr pipe may deliver it a little later.
  await until('the recovery in the log', () => /export file writable again/.test(agent.stderr()), 10_000 * SLOWDOWN).catch(() => {});
  t.match(agent.stderr(), /export file writable again/, 'the recovery is logged');
  const events = lines(file);
  const seen = new Set(events.map((e) => e.process_exec?.process.arguments).filter(Boolean));
  const held = Array.from({ length: 300 }, (_, i) => `full-disk-${i}`).filter((m) => seen.has(m)).length;
  const stats = await exporterStats(agent.socket);
  t.ok(held + Number(stats.dropped) >= 300, `each exec of the full-disk run was written later (${held}) or counted dropped (${stats.dropped})`);
  await agent.stop();
  t.ok(endsWhole(file) && lines(file).length, 'at rest, the file is whole lines of JSON: no half event was left by the full disk');
});

t.test('deleted or renamed under the agent, the file is made again; SIGHUP reopens it at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rot-'));
  const file = join(dir, 'events.log');
  const agent = await startAgent(['--export-file', file]);
  t.teardown(async () => { await agent.stop(); rmSync(dir, { recursive: true, force: true }); });

  unlinkSync(file);
  const a = `after-delete-${Date.now()}`;
  await runCommand(ECHO, [a]);
  await until('a new file with the marker', () => existsSync(file) && lines(file).some((e) => e.process_exec?.process.arguments === a));
  t.pass('a deleted file is made again, and the events go there');

  renameSync(file, `${file}.1`);
  agent.child.kill('SIGHUP');
  const b = `after-rotate-${Date.now()}`;
  await sleep(300);
  await runCommand(ECHO, [b]);
  await until('the rotated-in file with the marker', () => existsSync(file) && lines(file).some((e) => e.process_exec?.process.arguments === b));
  t.notOk(lines(`${file}.1`).some((e) => e.process_exec?.process.arguments === b), 'nothing more goes to the renamed file');
  t.equal(agent.child.exitCode, null, 'SIGHUP does not stop the agent');
  t.ok(existsSync(agent.socket), 'and its socket is still there');
  t.match(agent.stderr(), /reloading/);
});

t.test('an export file that cannot be opened stops the start with one line, no stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ro-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), '');
  for (const path of [join(dir, 'file', 'events.log'), '/proc/vigil-events.log']) {
    const r = spawnSync(process.execPath, [VIGIL, 'run', '--export-file', path, '--output', 'none', '--socket', join(dir, 's.sock')], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 1, path);
    t.match(r.stderr, /^vigil: VIGIL_USAGE: cannot open the export file .*\(choose a writable --export-file, or --no-export-file\)$/m, r.stderr.trim().split('\n').at(-1) ?? '');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

t.test('--output json into a reader that stops: bounded, and a closed pipe is logged, not fatal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pipe-'));
  const agent = await startAgent(['--output', 'json']);
  t.teardown(async () => { await agent.stop(); rmSync(dir, { recursive: true, force: true }); });
  agent.child.stdout!.pause();
  for (let i = 0; i < 200; i++) await runCommand(TRUE, []);
  agent.child.stdout!.destroy();
  for (let i = 0; i < 20; i++) await runCommand(TRUE, []);
  await until('the closed pipe to be noticed', () => /standard output closed/.test(agent.stderr()));
  t.equal(agent.child.exitCode, null, 'the agent keeps running');
});
