// A user filters opens with SubString and SubStringIgnCase: a value
// anywhere in the path selects the call, in the kernel. On openat's string
// arg the path is the caller's string, as written (relative, with `//`,
// `.` or `..`), so a caller can spell its way around a fragment; on a file
// arg (security_file_open, kprobes only) it is the path the kernel
// resolved, which no spelling changes. Sigkill acts on a SubString match.
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
const OPENAT_ARGS: HookPlan['args'] = [{ index: 0, type: 'int' }, { index: 1, type: 'string', label: 'path' }, { index: 2, type: 'int' }];
const onlyCat = [{ operator: 'In' as const, values: [CAT] }];

const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);
const noKprobes = await lacking(['kprobes', 'ring_buffer', 'bpf_loop']);

let p: PolicyAgent;
let dir: string;

t.before(async () => {
  if (skip && noKprobes) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-sub-')));
  for (const d of ['watched', 'other']) mkdirSync(join(dir, d));
  for (const f of ['watched/a.txt', 'watched/b.secret', 'other/c.txt', 'other/Key.PEM', 'other/at@[']) writeFileSync(join(dir, f), `${f}\n`);
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A cat of each path (from cwd), run under the plan; the paths its events report, in order. */
async function opensSeen(plan: HookPlan, paths: string[], cwd = dir, path = (ev: TetragonEvent) => ev.process_kprobe?.args[1]?.string_arg): Promise<(string | undefined)[]> {
  const id = p.agent.loadHook(plan).hookId;
  const pids = new Set<number>();
  try {
    for (const f of paths) {
      const r = await runCommand(CAT, [f], { cwd });
      pids.add(r.pid);
      await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of cat ${f}`);
    }
  } finally {
    p.agent.unloadHook(id);
  }
  // cat's own opens (its locale files) are not the test's.
  return p.events().filter((ev) => ev.process_kprobe?.policy_name === plan.policyName && pids.has(ev.process_kprobe.process.pid)).map(path)
    .filter((f) => !f?.startsWith('/') || f.startsWith(`${dir}/`));
}

const openat = (name: string, matchArgs: ArgFilter[]): HookPlan =>
  syscallPlan('sys_openat', OPENAT_ARGS, [selector({ matchArgs, matchBinaries: onlyCat })], `sub-${name.replace(/\W+/g, '-')}`);

t.test('SubString and SubStringIgnCase on openat\'s path select the opens whose string holds a value', { skip }, async (t) => {
  const a = join(dir, 'watched/a.txt');
  const secret = join(dir, 'watched/b.secret');
  const c = join(dir, 'other/c.txt');
  const pem = join(dir, 'other/Key.PEM');
  const all = [a, secret, c, pem];
  const thirtyTwo = '/watched/b.secret'.padStart(32, '/'); // the longest value, 4 words: not in any path
  const cases: { name: string; args: ArgFilter[]; paths?: string[]; cwd?: string; hits: string[] }[] = [
    { name: 'SubString in the middle', args: [{ index: 1, operator: 'SubString', values: ['secret'] }], hits: [secret] },
    { name: 'any of several values', args: [{ index: 1, operator: 'SubString', values: ['nowhere', '/other/'] }], hits: [c, pem] },
    { name: 'case matters for SubString', args: [{ index: 1, operator: 'SubString', values: ['key.pem', 'SECRET'] }], hits: [] },
    { name: 'IgnCase folds the arg and the value', args: [{ index: 1, operator: 'SubStringIgnCase', values: ['kEY.peM', 'SeCrEt'] }], hits: [secret, pem] },
    // '@' and '`', '[' and '{' differ by the case bit, and are not letters.
    { name: 'IgnCase folds letters only', args: [{ index: 1, operator: 'SubStringIgnCase', values: ['at`{', 'AT@{', 'at`['] }], paths: ['other/at@['], hits: [] },
    { name: 'IgnCase keeps other bytes as they are', args: [{ index: 1, operator: 'SubStringIgnCase', values: ['AT@['] }], paths: ['other/at@[', 'other/c.txt'], hits: ['other/at@['] },
    { name: 'a value at the very end', args: [{ index: 1, operator: 'SubString', values: ['.PEM'] }], hits: [pem] },
    { name: 'a value one byte past the end', args: [{ index: 1, operator: 'SubString', values: ['.PEM\n', 'a.txtx'] }], hits: [] },
    { name: 'a value at the very start', args: [{ index: 1, operator: 'SubString', values: ['watched/a'] }], paths: ['watched/a.txt', 'other/c.txt'], hits: ['watched/a.txt'] },
    { name: 'a value that is the whole string', args: [{ index: 1, operator: 'SubString', values: ['a.txt'] }], paths: ['a.txt', 'b.secret'], cwd: join(dir, 'watched'), hits: ['a.txt'] },
    { name: 'a value longer than the string', args: [{ index: 1, operator: 'SubString', values: ['a.txt.and-more'] }], paths: ['a.txt'], cwd: join(dir, 'watched'), hits: [] },
    // Relative paths: the temporary directory's random name may hold an 'M'.
    { name: 'a one-byte value', args: [{ index: 1, operator: 'SubString', values: ['M'] }], paths: ['watched/a.txt', 'watched/b.secret', 'other/c.txt', 'other/Key.PEM'], hits: ['other/Key.PEM'] },
    { name: 'an empty path holds no value', args: [{ index: 1, operator: 'SubString', values: ['/', 'a'] }], paths: [''], hits: [] },
    { name: 'a 32-byte value, the longest', args: [{ index: 1, operator: 'SubString', values: [thirtyTwo, `${dir}/watched/a.txt`.slice(-32)] }], hits: [a] },
    // 9 and 17 bytes: a value whose last word holds one byte.
    { name: 'values across word boundaries', args: [{ index: 1, operator: 'SubString', values: ['d/b.secre', 'r/Key.PEMx', '/watched/b.secreT', '/watched/b.secret'] }], hits: [secret] },
    { name: 'AND with Prefix', args: [{ index: 1, operator: 'Prefix', values: [`${dir}/other/`] }, { index: 1, operator: 'SubStringIgnCase', values: ['.TXT'] }], hits: [c] },
  ];
  for (const k of cases) {
    const seen = await opensSeen(openat(k.name, k.args), k.paths ?? all, k.cwd);
    t.same(seen, k.hits, k.name);
  }
});

t.test('openat\'s string is the caller\'s spelling: relative, `//`, `.` and `..` paths miss a fragment they open', { skip }, async (t) => {
  const seen = await opensSeen(openat('dodge-string', [{ index: 1, operator: 'SubString', values: ['watched/b.secret'] }]),
    ['watched/b.secret', 'watched//b.secret', 'watched/./b.secret', 'watched/../watched/./b.secret', 'other/../watched/b.secret']);
  // The last contains the fragment as written; the others open the same file under another spelling.
  t.same(seen, ['watched/b.secret', 'other/../watched/b.secret']);
  const inWatched = await opensSeen(openat('dodge-cwd', [{ index: 1, operator: 'SubString', values: ['watched/b.secret'] }]), ['b.secret'], join(dir, 'watched'));
  t.same(inWatched, [], 'from inside the directory, the string is only the name');
});

t.test('a file arg is the resolved path: every spelling of the file matches', { skip: noKprobes }, async (t) => {
  const plan: HookPlan = {
    policyName: 'sub-file-arg', hookIndex: 0, kind: 'kprobe', target: { function: 'security_file_open' }, syscall: false,
    args: [{ index: 0, type: 'file' }],
    selectors: [selector({ matchArgs: [{ index: 0, operator: 'SubStringIgnCase', values: ['WATCHED/B.secret'] }], matchBinaries: onlyCat })],
  };
  const secret = join(dir, 'watched/b.secret');
  const spellings = ['watched/b.secret', 'watched//b.secret', 'watched/./b.secret', 'watched/../watched/./b.secret', 'other/c.txt'];
  const seen = await opensSeen(plan, spellings, dir, (ev) => ev.process_kprobe?.args[0]?.file_arg?.path);
  t.same(seen, [secret, secret, secret, secret], 'four spellings of the file, one other file');
  const fromInside = await opensSeen({ ...plan, policyName: 'sub-file-arg-cwd' }, ['b.secret'], join(dir, 'watched'), (ev) => ev.process_kprobe?.args[0]?.file_arg?.path);
  t.same(fromInside, [secret], 'a bare name from inside the directory too');
});

t.test('Sigkill on a SubString match kills the opener; other opens go on', { skip: skip || await lacking(['bpf_send_signal']) }, async (t) => {
  const plan = syscallPlan('sys_openat', OPENAT_ARGS, [selector({
    matchArgs: [{ index: 1, operator: 'SubString', values: ['.secret'] }],
    matchBinaries: onlyCat,
    matchActions: [{ action: 'Sigkill' }],
  })], 'sub-kill');
  const id = p.agent.loadHook(plan).hookId;
  t.teardown(() => p.agent.unloadHook(id));
  const r = await runCommand(CAT, [join(dir, 'watched/b.secret')]);
  t.equal(r.signal, 'SIGKILL', 'cat died of SIGKILL');
  t.equal(r.stdout, '', 'the secret was never printed');
  const k = (await p.waitFor((ev) => ev.process_kprobe?.policy_name === 'sub-kill', 'the Sigkill event')).process_kprobe!;
  t.equal(k.action, 'KPROBE_ACTION_SIGKILL');
  t.equal(k.process.pid, r.pid);
  const ok = await runCommand(CAT, [join(dir, 'watched/a.txt')]);
  t.equal(ok.stdout, 'watched/a.txt\n', 'a file without the fragment is read');
});

t.test('the largest SubString selector set Vigil accepts passes the verifier', { skip }, async (t) => {
  const values = Array.from({ length: 8 }, (_, i) => `${i}`.padStart(32, 'z'));
  const full = selector({
    matchArgs: Array.from({ length: 8 }, (_, i) => ({ index: 1, operator: i % 2 ? 'SubStringIgnCase' as const : 'SubString' as const, values })),
    matchBinaries: onlyCat,
  });
  const id = p.agent.loadHook(syscallPlan('sys_openat', OPENAT_ARGS, Array(32).fill(full), 'sub-largest')).hookId;
  p.agent.unloadHook(id);
  t.pass('32 selectors of 8 SubString filters of 8 values of 32 bytes loaded');
});

t.test('SubString on a char_buf: the bytes write(2) writes, not their size', { skip }, async (t) => {
  const token = join(dir, 'token.txt');
  writeFileSync(token, 'key: AKIA-Vigil-Secret\n');
  const write = (name: string, f: ArgFilter): HookPlan => syscallPlan('sys_write', [
    { index: 0, type: 'int' }, { index: 1, type: 'char_buf', sizeArgIndex: 3 }, { index: 2, type: 'size_t' },
  ], [selector({ matchArgs: [f], matchBinaries: onlyCat })], `sub-buf-${name}`);
  const bytes = (ev: TetragonEvent) => Buffer.from(ev.process_kprobe?.args[1]?.bytes_arg ?? '', 'base64').toString();
  t.same(await opensSeen(write('icase', { index: 1, operator: 'SubStringIgnCase', values: ['akia-vigil'] }), [token, join(dir, 'watched/a.txt')], dir, bytes),
    ['key: AKIA-Vigil-Secret\n'], 'the token file\'s write, not the other file\'s');
  t.same(await opensSeen(write('case', { index: 1, operator: 'SubString', values: ['AKIA-vigil'] }), [token], dir, bytes), [], 'case matters');
  // 23 bytes written: the size, 0x17, is not searched as if it were text.
  t.same(await opensSeen(write('size', { index: 1, operator: 'SubString', values: ['\x17'] }), [token], dir, bytes), [], 'the size is not one of the bytes');
});
