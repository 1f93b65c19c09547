// Tetragon's export rules on a running agent, with real processes: the
// allowlist and denylist, field filters, redaction (a password in an
// argument reaches no output at all) and the rate limit with its
// rate_limit_info events; the same filters on `vigil events`.
// Kernel-independent: export rules applied in user space to the events any kernel delivers.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { startAgent, runCommand, VIGIL } from './lib/agent.js';
import { fileLines, tetragonLineErrors } from './lib/export-lines.js';
import { request } from '../agent/control/client.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ECHO = realpathSync('/bin/echo');
const TRUE = realpathSync('/bin/true');

async function until(what: string, fn: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const parsed = (path: string): TetragonEvent[] => fileLines(path).map((l) => JSON.parse(l) as TetragonEvent);

t.test('allowlist and denylist: only echo execs, not the denied one; field filters drop the parent of execs', async (t) => {
  const agent = await startAgent([
    '--export-allowlist', '{"event_set":["PROCESS_EXEC"],"binary_regex":["/echo$"]}\n{"event_set":["PROCESS_EXIT"],"arguments_regex":["^keep-exit"]}',
    '--export-denylist', '{"arguments_regex":["deny-me"]}',
    '--field-filters', '{"fields":"parent","action":"EXCLUDE","event_set":["PROCESS_EXEC"]}',
  ]);
  t.teardown(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  const m = Date.now();
  await runCommand(ECHO, [`deny-me-${m}`]);
  await runCommand(TRUE, [`true-${m}`]);
  await runCommand(ECHO, [`keep-exit-${m}`]);
  await runCommand(ECHO, [`last-${m}`]);
  await until('the last marker', () => parsed(agent.exportFile).some((e) => e.process_exec?.process.arguments === `last-${m}`));
  await sleep(500);
  const events = parsed(agent.exportFile).filter((e) => !e.vigil_lost);
  t.ok(events.length > 0);
  t.ok(events.every((e) => (e.process_exec && e.process_exec.process.binary === ECHO) || e.process_exit?.process.arguments?.startsWith('keep-exit')),
    'only echo execs and the kept exit');
  t.notOk(events.some((e) => JSON.stringify(e).includes('deny-me')), 'the denylist wins over the allowlist');
  t.notOk(events.some((e) => JSON.stringify(e).includes(`true-${m}`)), 'true is not allowed');
  t.ok(events.some((e) => e.process_exit?.process.arguments === `keep-exit-${m}`), 'the second allow line: the exit');
  t.ok(events.filter((e) => e.process_exec).every((e) => e.process_exec!.parent === undefined), 'execs have no parent');
  t.ok(events.filter((e) => e.process_exit).every((e) => e.process_exit!.parent !== undefined), 'exits keep theirs');
  t.same(fileLines(agent.exportFile).flatMap(tetragonLineErrors), [], 'each line a Tetragon event line');
  let status = '';
  await request(agent.socket, { op: 'status' }, (l) => (status = l));
  const file = JSON.parse(status).exporters.find((e: { name: string }) => e.name === 'json-file');
  t.ok(file.filtered > 0, `status counts the filtered events (${file.filtered})`);
});

t.test('redaction: the password is in no output: file, stdout, live tail', async (t) => {
  const agent = await startAgent(['--output', 'json', '--redaction-filters', '{"redact":["--password(?:\\\\s+|=)(\\\\S*)"]}\n{"binary_regex":["/echo$"],"redact":["-p\\\\s+(\\\\S+)"]}']);
  t.teardown(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  const tail: string[] = [];
  void request(agent.socket, { op: 'events' }, (l) => tail.push(l)).catch(() => undefined);
  await sleep(300);
  const secret = `hunter2-${Date.now()}`;
  await runCommand(ECHO, [`--password=${secret}`, '-p', `${secret}x`]);
  await runCommand(TRUE, ['-p', `${secret}y`]);
  await until('the redacted echo', () => parsed(agent.exportFile).some((e) => e.process_exec?.process.arguments === '--password=***** -p *****'));
  const isTrue = (e: TetragonEvent): boolean => e.process_exec?.process.binary === TRUE && (e.process_exec.process.arguments ?? '').includes('-p');
  await until('the exec of true', () => parsed(agent.exportFile).some(isTrue));
  const tru = parsed(agent.exportFile).find(isTrue);
  t.equal(tru?.process_exec?.process.arguments, `-p ${secret}y`, 'binary_regex: the -p filter is for echo only');
  await until('the tail and stdout to catch up', () => tail.some((l) => l.includes('--password=*****')) && agent.stdout().includes('--password=*****'));
  const leaks = (text: string): boolean => text.includes(`${secret} `) || text.includes(`${secret}x`) || text.includes(`=${secret}`);
  t.notOk(leaks(readFileSync(agent.exportFile, 'utf8')), 'not in the export file');
  t.notOk(leaks(agent.stdout()), 'not on stdout');
  t.notOk(leaks(tail.join('\n')), 'not in the live tail');
  t.ok(parsed(agent.exportFile).some((e) => e.process_exit?.process.arguments === '--password=***** -p *****'), 'exits show the process as redacted too');
});

t.test('rate limit: what passes, and rate_limit_info events that count every dropped event', async (t) => {
  const t0 = Date.now();
  const agent = await startAgent(['--export-rate-limit', '40']);
  t.teardown(() => rmSync(agent.dir, { recursive: true, force: true }));
  for (let i = 0; i < 30; i++) await runCommand(ECHO, [`limited-${i}`]);
  await sleep(500);
  await agent.stop();
  // The bucket starts with a minute's worth and refills 40 a minute: on a slow machine (the VM) more pass.
  const refill = Math.ceil(((Date.now() - t0) / 60_000) * 40);
  const lines = fileLines(agent.exportFile);
  const events = lines.map((l) => JSON.parse(l) as TetragonEvent);
  const info = events.filter((e) => e.rate_limit_info);
  t.ok(info.length >= 1, `${info.length} rate_limit_info events`);
  t.same(lines.filter((l) => l.startsWith('{"rate_limit_info"')).flatMap(tetragonLineErrors), [], 'rate_limit_info is a Tetragon event line');
  const dropped = info.reduce((n, e) => n + Number(e.rate_limit_info!.number_of_dropped_process_events), 0);
  const passed = events.filter((e) => !e.rate_limit_info && !e.vigil_lost).length;
  t.ok(passed >= 40 && passed <= 40 + refill, `${passed} events passed a limit of 40 a minute (and its refill of at most ${refill})`);
  const stopped = JSON.parse(agent.stderr().split('\n').find((l) => l.includes('"msg":"stopped"'))!);
  const emitted = Object.entries(stopped.events as Record<string, number>).filter(([k]) => k.startsWith('process_')).reduce((n, [, v]) => n + v, 0);
  t.equal(passed + dropped, emitted, `every one of the ${emitted} events was exported (${passed}) or counted in rate_limit_info (${dropped})`);
});

t.test('vigil events takes the same filters', async (t) => {
  const agent = await startAgent([]);
  t.teardown(async () => { await agent.stop(); rmSync(agent.dir, { recursive: true, force: true }); });
  const c = spawn(process.execPath, [VIGIL, 'events', '--socket', agent.socket, '-o', 'json',
    '--allowlist', '{"binary_regex":["/echo$"]}', '--denylist', '{"event_set":["PROCESS_EXIT"]}', '--field-filters', '{"fields":"process.binary,process.arguments"}'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  t.teardown(() => { c.kill(); });
  const m = `tail-filter-${Date.now()}`;
  await until('the tail to show the marker', () => {
    void runCommand(ECHO, [m]);
    return out.includes(m);
  }, 30_000);
  await runCommand(TRUE, [m]);
  await sleep(500);
  const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.ok(lines.every((l) => l.process_exec?.process.binary === ECHO || l.vigil_lost), 'only echo execs');
  t.same(Object.keys(lines.find((l) => l.process_exec)!.process_exec.process).sort(), ['arguments', 'binary'], 'only the included fields');
});
