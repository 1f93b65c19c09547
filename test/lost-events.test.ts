// When the ring buffer is full, records are counted as lost per program,
// logged as a warning, shown by `vigil status`, and reported in the export
// and the live tail as a vigil_lost event: never dropped silently.
import t from 'tap';
import { realpathSync } from 'node:fs';
import { startAgent, runCommand, VIGIL } from './lib/agent.js';
import { SLOWDOWN } from './lib/kernel.js';
import { request } from '../agent/control/client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('a full ring buffer counts lost records per program and reports them', async (t) => {
  const agent = await startAgent(['--ring-size', '8192']);
  t.teardown(() => agent.stop());
  const tail: string[] = [];
  void request(agent.socket, { op: 'events' }, (line) => tail.push(line)).catch(() => undefined);
  await sleep(300);
  // A stopped reader cannot drain: 200 execs overflow an 8 KiB ring.
  agent.child.kill('SIGSTOP');
  await runCommand('/bin/sh', ['-c', `i=0; while [ $i -lt 200 ]; do ${realpathSync('/bin/true')}; i=$((i+1)); done`]);
  agent.child.kill('SIGCONT');

  const end = Date.now() + 20_000 * SLOWDOWN;
  while (!agent.stderr().includes('events lost') && Date.now() < end) await sleep(100);
  const warning = agent.stderr().split('\n').find((l) => l.includes('events lost'));
  t.ok(warning, 'the agent logs a warning');
  const w = JSON.parse(warning!);
  t.equal(w.level, 40);
  t.ok(w.lost > 0 && w.program, `names the program (${w.program}) and the count (${w.lost})`);

  const r = await runCommand(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket]);
  const s = JSON.parse(r.stdout);
  const exec = s.programs.find((p: { program: string }) => p.program === 'vigil_exec');
  t.ok(exec.lost > 0, `vigil status shows lost exec records (${exec.lost})`);
  t.equal(s.lost_events, s.programs.reduce((n: number, p: { lost: number }) => n + p.lost, 0), 'the total is the sum per program');
  t.ok(exec.emitted + exec.lost >= 200, 'every exec was either emitted or counted lost');
  const text = await runCommand(process.execPath, [VIGIL, 'status', '--socket', agent.socket]);
  t.match(text.stdout, new RegExp(`lost events:\\s+${s.lost_events}`));

  const lost = await agent.waitFor((e) => e.vigil_lost !== undefined, 'a vigil_lost event in the export');
  const ring = lost.vigil_lost!.ring_buffer ?? [];
  t.ok(ring.some((r) => r.program === 'vigil_exec' && r.lost > 0 && r.lost_total >= r.lost), 'it names vigil_exec and its count');
  t.equal(lost.vigil_lost!.lost, ring.reduce((n, r) => n + r.lost, 0), 'lost is the sum of its causes');
  t.equal(lost.node_name, 'vigil-test');
  t.ok(tail.some((l) => l.startsWith('{"vigil_lost":')), 'and in the live tail');
});
