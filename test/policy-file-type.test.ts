// A user filters file args by type with FileType and NotFileType: the
// kernel reads the type from the file's inode (regular, dir, char, fifo…),
// whatever its name says. On the host, close(2)'s fd arg (the syscall's
// tracepoint); with kprobes, also security_file_open's file arg.
import t from 'tap';
import { mkdirSync, writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';
import type { ArgFilter, HookPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const onlyCat = [{ operator: 'In' as const, values: [CAT] }];

const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);
const noKprobes = await lacking(['kprobes', 'ring_buffer', 'bpf_loop']);

let p: PolicyAgent;
let dir: string;
let file: string;
let sub: string;

t.before(async () => {
  if (skip && noKprobes) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-ftype-')));
  file = join(dir, 'a.dir'); // a regular file named like a directory
  sub = join(dir, 'b.txt'); // a directory named like a file
  writeFileSync(file, 'a\n');
  mkdirSync(sub);
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** cat of each path under the plan; the file paths its events report. */
async function seenBy(plan: HookPlan, paths: string[]): Promise<string[]> {
  const id = p.agent.loadHook(plan).hookId;
  const pids = new Set<number>();
  try {
    for (const f of paths) {
      const r = await runCommand(CAT, [f]);
      pids.add(r.pid);
      await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of cat ${f}`);
    }
  } finally {
    p.agent.unloadHook(id);
  }
  const path = (ev: TetragonEvent) => ev.process_kprobe!.args[0]?.file_arg?.path ?? '';
  return p.events().filter((ev) => ev.process_kprobe?.policy_name === plan.policyName && pids.has(ev.process_kprobe.process.pid)).map(path);
}

const ours = (paths: string[]) => paths.filter((f) => f.startsWith(`${dir}/`) || f === '/dev/null');

const closePlan = (name: string, f: ArgFilter): HookPlan =>
  syscallPlan('sys_close', [{ index: 0, type: 'fd' }], [selector({ matchArgs: [f], matchBinaries: onlyCat })], `ftype-${name.replace(/\W+/g, '-')}`);

t.test('FileType and NotFileType on close(2)\'s fd select by the inode\'s type, not the name', { skip }, async (t) => {
  const cases: { name: string; f: ArgFilter; hits: string[] }[] = [
    { name: 'regular', f: { index: 0, operator: 'FileType', values: ['regular'] }, hits: [file] },
    { name: 'dir', f: { index: 0, operator: 'FileType', values: ['dir'] }, hits: [sub] },
    { name: 'char (Tetragon\'s short name)', f: { index: 0, operator: 'FileType', values: ['chr'] }, hits: ['/dev/null'] },
    { name: 'any of several', f: { index: 0, operator: 'FileType', values: ['dir', 'char', 'socket'] }, hits: [sub, '/dev/null'] },
    { name: 'NotFileType', f: { index: 0, operator: 'NotFileType', values: ['regular', 'fifo'] }, hits: [sub, '/dev/null'] },
    { name: 'none of them', f: { index: 0, operator: 'FileType', values: ['block', 'symlink'] }, hits: [] },
  ];
  for (const c of cases) {
    t.same(ours(await seenBy(closePlan(c.name, c.f), [file, sub, '/dev/null'])), c.hits, c.name);
  }
  // cat closes its stdout at exit: the socket node gives it, which the test reads.
  const socks = await seenBy(closePlan('socket', { index: 0, operator: 'FileType', values: ['sock'] }), [file]);
  t.ok(socks.length >= 1, `cat's stdout is a socket: ${JSON.stringify(socks)}`);
  t.same(ours(socks), [], 'and no file of ours is');
});

t.test('FileType on security_file_open\'s file arg', { skip: noKprobes }, async (t) => {
  const plan: HookPlan = {
    policyName: 'ftype-open', hookIndex: 0, kind: 'kprobe', target: { function: 'security_file_open' }, syscall: false,
    args: [{ index: 0, type: 'file' }],
    selectors: [selector({ matchArgs: [{ index: 0, operator: 'FileType', values: ['dir'] }, { index: 0, operator: 'Prefix', values: [`${dir}/`] }], matchBinaries: onlyCat })],
  };
  t.same(await seenBy(plan, [file, sub]), [sub]);
});
