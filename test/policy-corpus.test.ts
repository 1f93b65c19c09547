// The policy corpus: one Tetragon-style file per feature of the
// TracingPolicy language (test/fixtures/policies/corpus/), as a user
// copies them from Tetragon's examples. Each file lints with exactly the
// errors and warnings listed below, each at its field path with its
// reason; all of them go to one agent at once, where the refused ones fail
// alone and the rest load and give the events and verdicts Tetragon
// documents (SIGKILL, EPERM). @DIR@, @CAT@, @PERL@ and @TARGET@ in the
// files are this run's directory and binaries.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, runCommand, VIGIL } from './lib/agent.js';
import { hasFeatures, lacking } from './lib/kernel.js';
import { buildProgram } from './lib/programs.js';
import { startPolicyAgent, type PolicyAgent } from './lib/policy-agent.js';
import type { PolicyState } from '../agent/policy/manager.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const CORPUS = join(REPO, 'test/fixtures/policies/corpus');
const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop', 'bpf_send_signal', 'uprobes']);
const override = await hasFeatures(['fmod_ret', 'fexit']);
const lsm = await hasFeatures(['bpf_lsm']);

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-corpus-')));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const CAT = realpathSync('/bin/cat');
const PERL = realpathSync('/usr/bin/perl');
const MKDIR = realpathSync('/bin/mkdir');
const LN = realpathSync('/bin/ln');
const CURL = realpathSync('/usr/bin/curl');
const TARGET = buildProgram('uprobe-target', dir);
const SYS_SYNC = 162;

// What the policies' triggers open, made before any policy is loaded (a Sigkill on opens under lenient/ would kill this test).
mkdirSync(join(dir, 'lenient'));
writeFileSync(join(dir, 'lenient/file'), 'x\n');
writeFileSync(join(dir, 'x.macro'), 'x\n');
for (const sub of ['ns', 'lists', 'lsm']) mkdirSync(join(dir, sub));
for (const f of ['ns/file', 'lists/a', 'lists/b', 'lsm/file', 'elsewhere']) writeFileSync(join(dir, f), 'x\n');

/** The corpus with this run's paths, in dir/policies. */
const POLICIES = join(dir, 'policies');
mkdirSync(POLICIES);
const names = readdirSync(CORPUS).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
for (const name of names) {
  const text = readFileSync(join(CORPUS, `${name}.yaml`), 'utf8')
    .replaceAll('@DIR@', dir).replaceAll('@CAT@', CAT).replaceAll('@PERL@', PERL).replaceAll('@MKDIR@', MKDIR).replaceAll('@LN@', LN).replaceAll('@CURL@', CURL).replaceAll('@TARGET@', TARGET);
  writeFileSync(join(POLICIES, `${name}.yaml`), text);
}

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];
/** path: message pattern. */
type Finding = [string, RegExp];

interface Expected {
  errors?: Finding[];
  warnings?: Finding[];
  /** Lint passes (it cannot know) and the kernel refuses the load: why. */
  loadError?: RegExp;
  /** With the policy loaded: what a user sees it do. */
  run?: (t: Tap, p: PolicyAgent) => Promise<void>;
}

const refused = (field: string, why: RegExp): Finding => [field, new RegExp(`is not supported by Vigil( yet)?: .*${why.source}`)];
const kprobeOf = (policy: string, pid: number) => (ev: TetragonEvent): boolean =>
  ev.process_kprobe?.policy_name === policy && ev.process_kprobe.process.pid === pid;
const exitOf = (p: PolicyAgent, pid: number) => p.waitFor((ev) => ev.process_exit?.process.pid === pid, `exit of ${pid}`);

const EXPECTED: Record<string, Expected> = {
  'tracepoint-args-index': {
    async run(t, p) {
      const alive = await runCommand(PERL, ['-e', 'print "alive\\n"']);
      t.equal(alive.stdout, 'alive\n', 'perl without sync(2) runs');
      const killed = await runCommand(PERL, ['-e', `syscall(${SYS_SYNC}); print "alive\\n"`]);
      t.equal(killed.signal, 'SIGKILL', 'perl calling sync(2) is killed: matchArgs index 0 is args[0], the tracepoint field 4');
      t.equal(killed.stdout, '');
      const ev = await p.waitFor((e) => e.process_tracepoint?.policy_name === 'corpus-tracepoint-args-index' && e.process_tracepoint.process.pid === killed.pid, 'the sync(2) event');
      t.same(ev.process_tracepoint!.args, [{ syscall_id: { id: SYS_SYNC, abi: 'x64' } }]);
    },
  },
  'return-override': override ? {
    async run(t, p) {
      const denied = await runCommand('/bin/sh', ['-c', `exec ${MKDIR} ${join(dir, 'blocked')} 2>&1`]);
      t.match(denied.stdout, /Operation not permitted/, 'mkdir fails with EPERM');
      t.notOk(existsSync(join(dir, 'blocked')), 'and makes nothing: the function was skipped at entry');
      const k = (await p.waitFor(kprobeOf('corpus-return-override', denied.pid), 'the refused mkdir')).process_kprobe!;
      t.equal(k.action, 'KPROBE_ACTION_OVERRIDE');
      t.same(k.return, { int_arg: -1 }, 'the return value Override gave');
      t.equal(k.message, 'mkdir refused at entry');
      const made = await runCommand(PERL, ['-e', `mkdir(${JSON.stringify(join(dir, 'made'))}) or die`]);
      t.equal(made.code, 0, 'another binary makes its directory');
    },
  } : { errors: [['spec.kprobes[0]', /has an Override action, which needs fmod_ret and fexit on security_inode_mkdir/]] },
  'syscall-override': override ? {
    // Debian's kernel has no error-injection list: fmod_ret may change security_* functions only.
    loadError: /the kernel does not let fmod_ret change __x64_sys_linkat's return value; deny at the LSM hook the call reaches instead/,
  } : { errors: [['spec.kprobes[0]', /has an Override action, which needs fmod_ret on __x64_sys_linkat/]] },
  'link-lsm': override ? {
    async run(t) {
      writeFileSync(join(dir, 'link-source'), 'x\n');
      const denied = await runCommand('/bin/sh', ['-c', `exec ${LN} ${join(dir, 'link-source')} ${join(dir, 'link')} 2>&1`]);
      t.match(denied.stdout, /Operation not permitted/, 'ln is refused with EPERM at security_inode_link');
      t.notOk(existsSync(join(dir, 'link')));
      const made = await runCommand(PERL, ['-e', `link(${JSON.stringify(join(dir, 'link-source'))}, ${JSON.stringify(join(dir, 'perl-link'))}) or die`]);
      t.equal(made.code, 0, 'another binary links');
    },
  } : { errors: [['spec.kprobes[0]', /has an Override action, which needs fmod_ret on security_inode_link/]] },
  'connect-deny': {
    async run(t, p) {
      const curl = await runCommand('/bin/sh', ['-c', `exec ${CURL} -sSv --max-time 5 http://192.0.2.7:9/ 2>&1`]);
      t.match(curl.stdout, /Operation not permitted/, 'curl to 192.0.2.0/24 is refused with EPERM at connect');
      const perl = await runCommand(PERL, ['-MIO::Socket::INET', '-e', 'IO::Socket::INET->new(PeerAddr => "192.0.2.7:9", Timeout => 1); print "$!\\n"']);
      t.notMatch(perl.stdout, /Operation not permitted/, `perl to the same address is not refused (${perl.stdout.trim()})`);
      const k = (await p.waitFor(kprobeOf('corpus-connect-deny', curl.pid), 'the denied connect')).process_kprobe!;
      t.equal(k.action, 'KPROBE_ACTION_OVERRIDE');
      t.match(k.args, [{ sockaddr_arg: { addr: '192.0.2.7', port: 9 } }]);
    },
  },
  'namespaces-nohost': {
    async run(t) {
      const host = await runCommand(CAT, [join(dir, 'ns/file')]);
      t.equal(host.stdout, 'x\n', 'cat in the host\'s network namespace reads the file');
      const own = await runCommand('unshare', ['--net', CAT, join(dir, 'ns/file')]);
      t.equal(own.signal, 'SIGKILL', 'cat in a network namespace of its own is killed');
    },
  },
  lists: {
    async run(t, p) {
      const script = `$SIG{USR1} = sub { print "usr1\\n" }; unlink(${JSON.stringify(join(dir, 'lists/a'))}); rename(${JSON.stringify(join(dir, 'lists/b'))}, ${JSON.stringify(join(dir, 'lists/c'))}); unlink(${JSON.stringify(join(dir, 'elsewhere'))}); print "done\\n"`;
      const r = await runCommand(PERL, ['-e', script]);
      t.equal(r.stdout, 'usr1\nusr1\ndone\n', 'SIGUSR1 for the unlink and the rename under lists/, none for the other unlink');
      await exitOf(p, r.pid);
      const fns = p.events().filter((e) => e.process_kprobe?.policy_name === 'corpus-lists' && e.process_kprobe.process.pid === r.pid).map((e) => e.process_kprobe!.function_name);
      t.same(fns.sort(), ['__x64_sys_rename', '__x64_sys_unlink'], 'one event per syscall of the list');
    },
  },
  'lsm-file-open': lsm ? {
    async run(t) {
      const denied = await runCommand('/bin/sh', ['-c', `exec ${CAT} ${join(dir, 'lsm/file')} 2>&1`]);
      t.match(denied.stdout, /Permission denied|Operation not permitted/, 'cat is refused the open');
      const other = await runCommand('/usr/bin/head', [join(dir, 'lsm/file')]);
      t.equal(other.stdout, 'x\n', 'head reads it');
    },
  } : { errors: [['spec.lsmhooks[0]', /lsm:file_open needs BPF LSM programs/]] },
  lenient: {
    warnings: [
      ['spec.kprobes[0].returnArg', /returnArg is ignored without return: true/],
      ['spec.kprobes[0].selectors[0].matchActions[0].argError', /Sigkill takes no argError: it is ignored/],
    ],
    async run(t) {
      const r = await runCommand(CAT, [join(dir, 'lenient/file')]);
      t.equal(r.signal, 'SIGKILL', 'the Sigkill with an ignored argError kills');
    },
  },
  macros: {
    async run(t, p) {
      const head = await runCommand('/usr/bin/head', [join(dir, 'x.macro')]);
      const cat = await runCommand(CAT, [join(dir, 'x.macro')]);
      const k = (await p.waitFor(kprobeOf('corpus-macros', cat.pid), 'cat opening x.macro')).process_kprobe!;
      t.same(k.args, [{ string_arg: join(dir, 'x.macro') }]);
      await exitOf(p, cat.pid);
      await exitOf(p, head.pid);
      t.notOk(p.events().some(kprobeOf('corpus-macros', head.pid)), 'head is not in the macro\'s matchBinaries');
    },
  },
  uprobe: {
    async run(t, p) {
      const r = await runCommand(TARGET, ['see-1', 'other', 'kill-me', 'never']);
      t.equal(r.signal, 'SIGKILL', 'the call with "kill-me" is killed');
      t.equal(r.stdout, 'after 1 10\nafter 2 20\n', 'the calls before it returned');
      const ev = await p.waitFor((e) => e.process_uprobe?.policy_name === 'corpus-uprobe' && e.process_uprobe.process.pid === r.pid
        && e.process_uprobe.args?.[1]?.string_arg === 'see-1', 'the uprobe event');
      t.same(ev.process_uprobe!.args, [{ int_arg: 1 }, { string_arg: 'see-1' }]);
      await exitOf(p, r.pid);
      t.notOk(p.events().some((e) => e.process_uprobe?.process.pid === r.pid && e.process_uprobe.args?.[1]?.string_arg === 'other'), '"other" matches no selector');
    },
  },
  'uprobe-override': { errors: [['spec.uprobes[0].selectors[0].matchActions[0].action', /Override is not supported on uprobes: a uprobe program cannot make a user-space function return early/]] },
  fentries: { errors: [refused('spec.fentries', /fentry hooks are not attached from this list: write them as kprobes/)] },
  'raw-tracepoint': { errors: [refused('spec.tracepoints[0].raw', /raw tracepoints are not attached/)] },
  usdts: { errors: [refused('spec.usdts', /USDT probes are not attached: hook the probe's address as a uprobe/)] },
  data: {
    errors: [
      refused('spec.kprobes[0].args[0].btfType', /args are read as their type gives them: no BTF cast/),
      refused('spec.kprobes[0].data', /Vigil reads function arguments only/),
      refused('spec.kprobes[0].data[0].source', /Vigil reads function arguments only/),
      refused('spec.kprobes[0].selectors[0].matchData', /Vigil reads no data args to filter on/),
    ],
  },
  resolve: { errors: [refused('spec.kprobes[0].args[0].resolve', /args are read as their type gives them, without following struct fields/)] },
  cel: { errors: [['spec.kprobes[0].selectors[0].matchArgs[0].operator', /CelExpr/]] },
  tracksock: { errors: [['spec.kprobes[0].returnArgAction', /returnArgAction TrackSock is not supported by Vigil: sockets are not tracked/]] },
  untracksock: { errors: [['spec.kprobes[0].selectors[0].matchActions[0].action', /action "UntrackSock" is not supported by Vigil: sockets are not tracked/]] },
  enforcers: { errors: [['spec.kprobes[0].selectors[0].matchActions[0].action', /action "NotifyEnforcer" is not supported by Vigil: Vigil loads no enforcer programs/]] },
  'notify-actions': {
    errors: [
      ['spec.kprobes[0].selectors[0].matchActions[0].action', /action "GetUrl" is not supported by Vigil: the kernel programs make no requests/],
      ['spec.kprobes[0].selectors[0].matchActions[1].action', /action "DnsLookup" is not supported by Vigil: the kernel programs make no requests/],
      ['spec.kprobes[0].selectors[0].matchActions[2].action', /action "Set" is not supported by Vigil: arguments are read, never written/],
    ],
  },
  'stack-traces': {
    errors: [
      refused('spec.kprobes[0].selectors[0].matchActions[0].kernelStackTrace', /events carry no stack traces/),
      refused('spec.kprobes[0].selectors[0].matchActions[0].userStackTrace', /events carry no stack traces/),
    ],
  },
  loader: { errors: [refused('spec.loader', /Vigil reports no loader events/)] },
  selectors: {
    errors: [
      refused('spec.hostSelector', /hosts are not selected/),
      refused('spec.nodeSelector', /policies are not selected by node labels/),
      refused('spec.kprobes[0].selectors[0].matchWorkloads', /workloads are selected per policy/),
    ],
  },
};

interface LintFinding { file: string; path: string; message: string; severity: 'error' | 'warning' }

t.test('every corpus file has its expectation, and every expectation its file', async (t) => {
  t.same(names, Object.keys(EXPECTED).sort());
});

t.test('lint: each file has exactly its errors and warnings, at their field paths', async (t) => {
  const r = await runCommand(process.execPath, [VIGIL, 'policy', 'lint', '--json', POLICIES]);
  const found = JSON.parse(r.stdout) as LintFinding[];
  for (const name of names) {
    const mine = found.filter((f) => f.file.endsWith(`/${name}.yaml`));
    for (const severity of ['error', 'warning'] as const) {
      const want = (severity === 'error' ? EXPECTED[name].errors : EXPECTED[name].warnings) ?? [];
      const got = mine.filter((f) => f.severity === severity && !/kernel checks skipped/.test(f.message));
      t.same(got.map((f) => f.path), want.map(([path]) => path), `${name}: the ${severity}s' paths (${got.map((f) => f.message).join('; ')})`);
      for (const [path, pattern] of want) t.match(got.find((f) => f.path === path)?.message, pattern, `${name}: ${path}`);
    }
  }
});

t.test('one agent takes the whole corpus: the refused files fail alone, the others load and act', { skip }, async (t) => {
  const p = await startPolicyAgent({ policies: names.map((n) => join(POLICIES, `${n}.yaml`)) });
  t.teardown(() => p.stop());
  const list = JSON.parse((await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', join(p.dir, 'vigil.sock')])).stdout) as PolicyState[];
  for (const name of names) {
    const state = list.find((s) => s.file.endsWith(`/${name}.yaml`));
    const { errors, loadError } = EXPECTED[name];
    t.equal(state?.state, errors?.length || loadError ? 'error' : 'loaded', `${name}: ${state?.errors.join('; ')}`);
    if (loadError) t.match(state?.errors.join('\n'), loadError, `${name}: the kernel's refusal, explained`);
  }
  for (const name of names) {
    const run = EXPECTED[name].run;
    if (run) await t.test(name, (t) => run(t, p));
  }
});
