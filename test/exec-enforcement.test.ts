// An attacker tries every way around the library's exec policies
// (policies/library/exec-from-tmp-kill.yaml and, with BPF LSM,
// exec-from-tmp-deny.yaml, their directories made the test's own):
// relative paths, "..", "//", symlinks, a hardlink, execveat with an fd or
// a dirfd, /proc/self/fd, a memfd, ld.so, #! scripts and interpreters,
// renames, a path in an untouched page, a path too long to tell, the
// 32-bit int 0x80 entry, and the other way round, a PATH search that only
// tries the directory. Each runs as a real process under every mechanism
// this kernel offers the policy, and its fate is checked against CASES,
// the table the README's "Exec enforcement" section mirrors. A stopped
// process never runs an instruction of its own: its marker file
// (test/fixtures/programs/marker.c writes it first thing) never appears.
import t from 'tap';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO, VIGIL, runCommand, startAgent, type AgentHandle } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { buildExecForms, buildProgram } from './lib/programs.js';
import type { PolicyState } from '../agent/policy/manager.js';
import type { TracingPolicy } from '../policies/types.generated.js';

/** What a mechanism does to an attempt: stop it (SIGKILL, or EPERM for the LSM deny), let it run, or let it fail on its own. */
type Fate = 'stop' | 'run' | 'fail';

/** The mechanisms, by what they judge: security_bprm_check (kprobe or fentry), sched_process_exec, the syscall's string, the LSM hook. */
type Judge = 'bprm' | 'exec' | 'string' | 'lsm';

interface Column {
  judge: Judge;
  mechanism: string;
  /** The library policy: kill (Sigkill) or deny (BPF LSM, Override). */
  policy: 'exec-from-tmp-kill' | 'exec-from-tmp-deny';
  /** --disable-feature, to reach this mechanism where better ones exist. */
  disable: string[];
  needs: string[];
}

const COLUMNS: Column[] = [
  { judge: 'bprm', mechanism: 'exec_kprobe', policy: 'exec-from-tmp-kill', disable: [], needs: ['kprobes', 'bpf_send_signal'] },
  { judge: 'bprm', mechanism: 'exec_fentry', policy: 'exec-from-tmp-kill', disable: ['kprobes'], needs: ['fentry', 'bpf_send_signal'] },
  { judge: 'exec', mechanism: 'exec', policy: 'exec-from-tmp-kill', disable: ['kprobes', 'fentry'], needs: ['tp_btf', 'bpf_send_signal'] },
  { judge: 'string', mechanism: 'tracepoint', policy: 'exec-from-tmp-kill', disable: ['kprobes', 'fentry', 'tp_btf'], needs: ['tracepoints', 'bpf_send_signal'] },
  { judge: 'lsm', mechanism: 'lsm', policy: 'exec-from-tmp-deny', disable: [], needs: ['bpf_lsm'] },
];

/** One attempt's directories: bad is the policy's, ok is elsewhere on the same file system. */
interface Tree {
  root: string;
  bad: string;
  ok: string;
  /** exec-forms and the marker's source binary, outside both. */
  forms: string;
}

interface Attempt {
  cmd: string;
  args: string[];
  cwd?: string;
  /** PATH for the attempt (default: /usr/bin:/bin). */
  path?: string;
}

interface Case {
  name: string;
  /** Files the attempt needs beyond the shared tree (renames consume theirs). */
  setup?: (tree: Tree, n: string) => void;
  attempt: (tree: Tree, n: string) => Attempt;
  expect: Record<Judge, Fate>;
  /** Whether what runs writes the marker (the real /usr/bin/true does not). */
  marker?: false;
  /** The path a kill event carries (not checked for the string mechanism, which reports what was passed). */
  reported?: (tree: Tree, n: string, judge: Judge) => string;
  /** When it runs: the binary the process sensor reports, what the kernel executed. */
  executed?: (tree: Tree, n: string) => string;
}

const LDSO = realpathSync('/lib64/ld-linux-x86-64.so.2');
const SH = realpathSync('/bin/sh');
const ALL_STOP: Record<Judge, Fate> = { bprm: 'stop', exec: 'stop', string: 'stop', lsm: 'stop' };
const RESOLVED: Record<Judge, Fate> = { bprm: 'stop', exec: 'stop', string: 'run', lsm: 'stop' };
const NONE: Record<Judge, Fate> = { bprm: 'run', exec: 'run', string: 'run', lsm: 'run' };
const forms = (tree: Tree, ...args: string[]): Attempt => ({ cmd: tree.forms, args });
const x = (tree: Tree): string => join(tree.bad, 'x');

const CASES: Case[] = [
  { name: 'absolute path', attempt: (d) => forms(d, 'exec', x(d)), expect: ALL_STOP, reported: x },
  { name: 'relative ./x', attempt: (d) => ({ ...forms(d, 'exec', './x'), cwd: d.bad }), expect: RESOLVED, reported: x },
  { name: 'relative bad/x', attempt: (d) => ({ ...forms(d, 'exec', 'bad/x'), cwd: d.root }), expect: RESOLVED, reported: x },
  { name: 'PATH search (execvp x)', attempt: (d) => ({ ...forms(d, 'execvp', 'x'), path: d.bad }), expect: ALL_STOP, reported: x },
  { name: '.. (ok/../bad/x)', attempt: (d) => forms(d, 'exec', `${d.ok}/../bad/x`), expect: RESOLVED, reported: x },
  { name: '// (root//bad/x)', attempt: (d) => forms(d, 'exec', `${d.root}//bad/x`), expect: RESOLVED, reported: x },
  { name: '/./ (root/./bad/x)', attempt: (d) => forms(d, 'exec', `${d.root}/./bad/x`), expect: RESOLVED, reported: x },
  { name: '/proc/self/root/…', attempt: (d) => forms(d, 'exec', `/proc/self/root${x(d)}`), expect: RESOLVED, reported: x },
  { name: 'symlink to the binary', attempt: (d) => forms(d, 'exec', join(d.ok, 'sym')), expect: RESOLVED, reported: x },
  { name: 'symlinked directory', attempt: (d) => forms(d, 'exec', join(d.ok, 'ldir/x')), expect: RESOLVED, reported: x },
  {
    name: 'directory 100 levels deep',
    attempt: (d) => forms(d, 'exec', join(d.bad, ...Array(100).fill('d'), 'x')), expect: ALL_STOP,
    reported: (d) => join(d.bad, ...Array(100).fill('d'), 'x'),
  },
  { name: 'hardlink outside the directory', attempt: (d) => forms(d, 'exec', join(d.ok, 'hard')), expect: NONE, executed: (d) => join(d.ok, 'hard') },
  { name: 'execveat(dirfd, "x")', attempt: (d) => forms(d, 'execveat-dirfd', d.bad, 'x'), expect: RESOLVED, reported: x },
  { name: 'execveat(fd, "", AT_EMPTY_PATH)', attempt: (d) => forms(d, 'execveat-fd', x(d)), expect: RESOLVED, reported: x },
  { name: 'execveat(AT_FDCWD, absolute path)', attempt: (d) => forms(d, 'execveat-abs', x(d)), expect: RESOLVED, reported: x },
  { name: '/proc/self/fd/N', attempt: (d) => forms(d, 'proc-fd', x(d)), expect: RESOLVED, reported: x },
  { name: 'memfd copy (fileless)', attempt: (d) => forms(d, 'memfd', x(d)), expect: NONE, executed: () => '/memfd:vigil-fileless' },
  { name: 'ld.so bad/x', attempt: (d) => forms(d, 'exec', LDSO, x(d)), expect: NONE, executed: () => LDSO },
  {
    name: '#! interpreter in the directory', attempt: (d) => forms(d, 'exec', join(d.ok, 'interp.sh')),
    expect: { bprm: 'stop', exec: 'stop', string: 'run', lsm: 'stop' }, reported: (d) => join(d.bad, 'interp'),
  },
  { name: '#! script, absolute path', attempt: (d) => forms(d, 'exec', join(d.bad, 's.sh')), expect: ALL_STOP, reported: (d) => join(d.bad, 's.sh') },
  {
    name: '#! script, ./s.sh', attempt: (d) => ({ ...forms(d, 'exec', './s.sh'), cwd: d.bad }), expect: RESOLVED,
    // sched_process_exec names a script as the kernel was given it, after the cwd.
    reported: (d, _, judge) => (judge === 'exec' ? `${d.bad}/./s.sh` : join(d.bad, 's.sh')),
  },
  {
    name: '#! script through a symlink', attempt: (d) => forms(d, 'exec', join(d.ok, 'lsh')),
    expect: { bprm: 'stop', exec: 'run', string: 'run', lsm: 'stop' }, reported: (d) => join(d.bad, 's.sh'),
  },
  {
    name: '#! script, execveat(dirfd, "s.sh")', attempt: (d) => forms(d, 'execveat-dirfd', d.bad, 's.sh'), expect: RESOLVED,
    reported: (d) => join(d.bad, 's.sh'),
  },
  { name: 'sh bad/s.sh', attempt: (d) => forms(d, 'exec', SH, join(d.bad, 's.sh')), expect: NONE, executed: () => SH },
  {
    name: 'directory renamed, dirfd held',
    setup: (d, n) => copyInto(d, join(d.bad, `mv${n}`), 'x'),
    attempt: (d, n) => forms(d, 'moved-dir', join(d.bad, `mv${n}`), join(d.bad, `moved${n}`), 'x'), expect: RESOLVED,
    reported: (d, n) => join(d.bad, `moved${n}`, 'x'),
  },
  {
    name: 'binary moved out, fd held',
    setup: (d, n) => copyInto(d, d.bad, `out${n}`),
    attempt: (d, n) => forms(d, 'moved-out', join(d.bad, `out${n}`), join(d.ok, `out${n}`)), expect: NONE,
    executed: (d, n) => join(d.ok, `out${n}`),
  },
  { name: 'path in an untouched page', attempt: (d) => forms(d, 'page-exec', x(d)), expect: ALL_STOP },
  {
    name: 'path longer than 4096 bytes (fail-closed)',
    attempt: (d) => ({ cmd: SH, args: ['-c', `cd -P ${LONG.join(' && cd -P ')} && exec ${d.forms} exec ./x`], cwd: d.bad }),
    expect: RESOLVED,
  },
  { name: '32-bit int 0x80 execve', attempt: (d) => forms(d, 'int80', x(d)), expect: RESOLVED, reported: x },
  {
    name: 'PATH search that only tries the directory (execvp true)', attempt: (d) => ({ ...forms(d, 'execvp', 'true'), path: `${d.bad}:/usr/bin:/bin` }),
    expect: { bprm: 'run', exec: 'run', string: 'stop', lsm: 'run' }, marker: false,
  },
  {
    name: 'missing file in the directory', attempt: (d) => forms(d, 'exec', join(d.bad, 'missing')),
    expect: { bprm: 'fail', exec: 'fail', string: 'stop', lsm: 'fail' },
  },
];

/** 17 directories of 250 bytes: ./x under them is more than 4096 bytes from the root. */
const LONG = Array.from({ length: 17 }, (_, i) => `${String(i).padStart(2, '0')}${'l'.repeat(248)}`);

const noAgent = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);
let top: string;
let tools: { forms: string; marker: string };

t.before(() => {
  if (noAgent) return;
  top = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-exec-')));
  mkdirSync(join(top, 'tools'));
  tools = { forms: buildExecForms(join(top, 'tools')), marker: buildProgram('marker', join(top, 'tools')) };
});
t.teardown(() => {
  // rm, not rmSync: the long directory's path is too long for one call.
  if (top) spawnSync('rm', ['-rf', top]);
});

function copyInto(d: Tree, dir: string, name: string): void {
  mkdirSync(dir, { recursive: true });
  copyFileSync(tools.marker, join(dir, name));
  chmodSync(join(dir, name), 0o755);
}

/** A fresh tree for one mechanism: the binary, scripts, links and the long directory. */
function makeTree(name: string): Tree {
  const root = join(top, name);
  const tree: Tree = { root, bad: join(root, 'bad'), ok: join(root, 'ok'), forms: tools.forms };
  mkdirSync(tree.ok, { recursive: true });
  copyInto(tree, tree.bad, 'x');
  copyInto(tree, tree.bad, 'interp');
  copyInto(tree, join(tree.bad, ...Array(100).fill('d')), 'x');
  writeFileSync(join(tree.bad, 's.sh'), '#!/bin/sh\necho ran >"$VIGIL_MARKER"\n', { mode: 0o755 });
  writeFileSync(join(tree.ok, 'interp.sh'), `#!${join(tree.bad, 'interp')}\n`, { mode: 0o755 });
  symlinkSync(x(tree), join(tree.ok, 'sym'));
  symlinkSync(tree.bad, join(tree.ok, 'ldir'));
  symlinkSync(join(tree.bad, 's.sh'), join(tree.ok, 'lsh'));
  linkSync(x(tree), join(tree.ok, 'hard'));
  const long = spawnSync(SH, ['-c', `${LONG.map((c) => `mkdir ${c} && cd -P ${c}`).join(' && ')} && cp ${tools.marker} x`], { cwd: tree.bad });
  if (long.status !== 0) throw new Error(`cannot make the long directory: ${long.stderr}`);
  return tree;
}

/** The library policy with its directories replaced by the tree's bad one. */
function policyFile(tree: Tree, policy: Column['policy'] | 'mmap-exec-from-tmp-kill'): string {
  const doc = parse(readFileSync(join(REPO, 'policies/library', `${policy}.yaml`), 'utf8')) as TracingPolicy;
  const hooks = [...(doc.spec.kprobes ?? []), ...(doc.spec.lsmhooks ?? [])];
  for (const h of hooks) for (const s of h.selectors ?? []) for (const m of s.matchArgs ?? []) if (m.operator === 'Prefix') m.values = [`${tree.bad}/`];
  const file = join(tree.root, `${policy}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

interface Outcome {
  fate: Fate;
  pid: number;
  detail: string;
}

async function attempt(tree: Tree, c: Case, n: string): Promise<Outcome> {
  c.setup?.(tree, n);
  const a = c.attempt(tree, n);
  const marker = join(tree.root, `marker-${n}`);
  const r = await runCommand(a.cmd, a.args, { cwd: a.cwd, env: { PATH: a.path ?? '/usr/bin:/bin', VIGIL_MARKER: marker } });
  const ran = existsSync(marker);
  const detail = `exit ${r.code ?? r.signal}, marker ${ran ? 'written' : 'absent'}`;
  // SIGKILL before the first instruction, or EPERM (exec-forms exits with the errno) without running.
  if ((r.signal === 'SIGKILL' || r.code === 1) && !ran) return { fate: 'stop', pid: r.pid, detail };
  if (r.code === 0 && (ran || c.marker === false)) return { fate: 'run', pid: r.pid, detail };
  if (r.code !== null && r.code > 1 && !ran) return { fate: 'fail', pid: r.pid, detail };
  return { fate: 'run', pid: r.pid, detail: `${detail} (unexpected)` };
}

async function policyList(agent: AgentHandle): Promise<PolicyState[]> {
  const r = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', agent.socket]);
  return JSON.parse(r.stdout) as PolicyState[];
}

/** Fates seen, by mechanism then case, for the summary. */
const seen = new Map<string, Fate[]>();

for (const col of COLUMNS) {
  const skip = noAgent || await lacking(col.needs);
  t.test(`${col.mechanism}: ${col.policy}`, { skip }, async (t) => {
    const tree = makeTree(col.mechanism);
    const agent = await startAgent(['--policy', policyFile(tree, col.policy), ...col.disable.flatMap((f) => ['--disable-feature', f])]);
    t.teardown(() => agent.stop());
    const [state] = await policyList(agent);
    t.equal(state.state, 'loaded', JSON.stringify(state.errors));
    t.ok(state.hooks[0].reason, 'the hook says why its mechanism');
    t.equal(state.hooks[0].mechanism, col.mechanism, state.hooks[0].reason ?? '');
    const fates: Fate[] = [];
    seen.set(col.mechanism, fates);
    for (const [i, c] of CASES.entries()) {
      const out = await attempt(tree, c, String(i));
      fates.push(out.fate);
      t.equal(out.fate, c.expect[col.judge], `${c.name}: ${out.detail}`);
      if (out.fate === 'run' && c.executed) {
        const bin = c.executed(tree, String(i));
        await agent.waitFor((e) => e.process_exec?.process.pid === out.pid && e.process_exec.process.binary === bin, `${c.name}: the exec of ${bin}`);
      }
      if (out.fate !== 'stop' || col.judge === 'lsm') continue;
      // A kill is reported as the policy's event, on the path the mechanism judged.
      const ev = (await agent.waitFor((e) => e.process_kprobe?.policy_name === col.policy && e.process_kprobe.process.pid === out.pid, `${c.name}: the kill event`)).process_kprobe!;
      t.equal(ev.action, 'KPROBE_ACTION_SIGKILL', `${c.name}: Sigkill`);
      t.equal(ev.function_name, '__x64_sys_execve', `${c.name}: reported as the policy's syscall`);
      if (c.reported && col.judge !== 'string') t.equal(ev.args[0]?.string_arg, c.reported(tree, String(i), col.judge), `${c.name}: the executed file`);
    }
    if (col.judge !== 'string') {
      // The long path could not be told: counted, and killed only because the policy fails closed.
      const [after] = await policyList(agent);
      t.ok(after.hooks[0].undecided >= 1, `undecided counted (${after.hooks[0].undecided})`);
    }
  });
}

t.test('ld.so bad/x is killed where it maps bad/x executable (mmap-exec-from-tmp-kill, security_mmap_file)', { skip: noAgent || await lacking(['kprobes', 'bpf_send_signal']) }, async (t) => {
  const tree = makeTree('mmap');
  const agent = await startAgent(['--policy', policyFile(tree, 'mmap-exec-from-tmp-kill')]);
  t.teardown(() => agent.stop());
  const [state] = await policyList(agent);
  t.equal(state.state, 'loaded', JSON.stringify(state.errors));
  t.match(state.hooks[0], { mechanism: 'kprobe', target: 'security_mmap_file', enforcement: 'sigkill' });
  const ldso = CASES.find((c) => c.name.startsWith('ld.so'))!;
  const out = await attempt(tree, ldso, 'ldso');
  t.equal(out.fate, 'stop', `ld.so bad/x: ${out.detail}`);
  const ev = (await agent.waitFor((e) => e.process_kprobe?.policy_name === 'mmap-exec-from-tmp-kill' && e.process_kprobe.process.pid === out.pid, 'the kill event')).process_kprobe!;
  t.equal(ev.function_name, 'security_mmap_file');
  t.equal(ev.args[0]?.file_arg?.path, x(tree), 'the file mapped');
  t.equal((ev.process as { binary?: string }).binary, LDSO, 'the process is ld.so: the kernel executed it');
  const elsewhere = await runCommand(tools.forms, ['exec', LDSO, tools.marker], { env: { PATH: '/usr/bin:/bin', VIGIL_MARKER: join(tree.root, 'marker-elsewhere') } });
  t.equal(elsewhere.code, 0, 'ld.so runs a binary outside the directory');
  t.ok(existsSync(join(tree.root, 'marker-elsewhere')));
  const cat = await runCommand('/bin/cat', [join(tree.bad, 's.sh')]);
  t.equal(cat.code, 0, 'reading a file there is fine');
});

t.test('summary', { skip: noAgent }, async (t) => {
  const cols = [...seen.keys()];
  t.comment(`| case | ${cols.join(' | ')} |`);
  for (const [i, c] of CASES.entries()) t.comment(`| ${c.name} | ${cols.map((m) => seen.get(m)![i] ?? '-').join(' | ')} |`);
  t.ok(cols.length, `ran under ${cols.join(', ')}`);
});
