// A user filters policy hooks on the process: matchBinaries with
// followChildren, matchParentBinaries, matchPIDs in the task's pid
// namespace (with followForks), matchNamespaces, matchCapabilities and
// their *Changes forms. Real processes (a copy of sh, unshare, setpriv) open
// files under a temp dir; an openat hook with a Prefix on that dir and the
// selector under test reports exactly the opens of the processes the
// selector names, and nothing from the others.
import t from 'tap';
import { copyFileSync, chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, selector, syscallPlan, type PolicyAgent } from './lib/policy-agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';
import type { HookPlan, SelectorPlan } from '../policies/compiler/plan.js';

const CAT = realpathSync('/bin/cat');
const SH = realpathSync('/bin/sh');
const OPENAT_ARGS: HookPlan['args'] = [{ index: 0, type: 'int' }, { index: 1, type: 'string', label: 'path' }];

const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);

let p: PolicyAgent;
let dir: string;
let psh: string;

t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-procsel-')));
  for (const f of ['a', 'b', 'c', 'd']) writeFileSync(join(dir, f), `${f}\n`);
  // A shell of its own, so no other process on the machine runs this binary.
  psh = join(dir, 'psh');
  copyFileSync(SH, psh);
  chmodSync(psh, 0o755);
  p = await startPolicyAgent();
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const f = (name: string): string => join(dir, name);

/** Runs cmd; returns once its exit is exported, so every earlier record was read too. */
async function run(cmd: string, args: string[]): Promise<Awaited<ReturnType<typeof runCommand>>> {
  const r = await runCommand(cmd, args);
  await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, `exit of ${cmd} ${args.join(' ')}`);
  return r;
}

/** The hook's events under dir, in order. */
function seen(policy: string): NonNullable<TetragonEvent['process_kprobe']>[] {
  return p.events().filter((ev) => ev.process_kprobe?.policy_name === policy && ev.process_kprobe.args[1]?.string_arg?.startsWith(`${dir}/`))
    .map((ev) => ev.process_kprobe!);
}

/** Loads an openat hook (a Prefix on dir plus sel) named policy, runs the commands, unloads it; returns the paths opened under dir. */
async function opens(policy: string, sel: Partial<SelectorPlan>, commands: [string, string[]][]): Promise<string[]> {
  const plan = syscallPlan('sys_openat', OPENAT_ARGS, [selector({ ...sel, matchArgs: [{ index: 1, operator: 'Prefix', values: [`${dir}/`] }, ...(sel.matchArgs ?? [])] })], policy);
  const id = p.agent.loadHook(plan).hookId;
  try {
    for (const [cmd, args] of commands) await run(cmd, args);
  } finally {
    p.agent.unloadHook(id);
  }
  return seen(policy).map((k) => k.args[1].string_arg!);
}

t.test('matchBinaries followChildren: the children and grandchildren of a matching binary match, others not', { skip }, async (t) => {
  const script = `${CAT} ${f('a')}; ${SH} -c "${CAT} ${f('b')}; true"; true`;
  const got = await opens('follow-children', { matchBinaries: [{ operator: 'In', values: [psh], followChildren: true }] }, [
    [psh, ['-c', script]],
    [CAT, [f('c')]],
    [SH, ['-c', `${CAT} ${f('d')}; true`]],
  ]);
  t.same(got, [f('a'), f('b')], "cat under psh and under psh's sh child match; cat and sh elsewhere do not");
  const k = seen('follow-children');
  t.equal('binary' in k[0].process && k[0].process.binary, CAT, 'the event is the child cat, with its own binary');
  t.equal(k[1].parent && 'binary' in k[1].parent && k[1].parent.binary, SH, "the grandchild's parent is sh");

  const plain = await opens('no-follow', { matchBinaries: [{ operator: 'In', values: [psh] }] }, [[psh, ['-c', script]]]);
  t.same(plain, [], 'without followChildren the children of psh do not match');
});

t.test('matchBinaries followChildren: a process already running when the hook loads is followed too', { skip }, async (t) => {
  const fifo = f('go');
  await runCommand('mkfifo', [fifo]);
  t.teardown(() => rmSync(fifo, { force: true }));
  // psh starts first and waits on the fifo; the hook loads; then psh forks cat.
  const started = runCommand(psh, ['-c', `read x < ${fifo}; ${CAT} ${f('a')}; true`]);
  await p.waitFor((ev) => ev.process_exec?.process.binary === psh, 'exec of psh');
  const plan = syscallPlan('sys_openat', OPENAT_ARGS, [selector({
    matchArgs: [{ index: 1, operator: 'Prefix', values: [`${dir}/`] }],
    matchBinaries: [{ operator: 'In', values: [psh], followChildren: true }],
  })], 'follow-running');
  const id = p.agent.loadHook(plan).hookId;
  t.teardown(() => p.agent.unloadHook(id));
  writeFileSync(fifo, 'go\n');
  const r = await started;
  await p.waitFor((ev) => ev.process_exit?.process.pid === r.pid, 'exit of psh');
  t.same(seen('follow-running').map((k) => k.args[1].string_arg).filter((s) => s !== fifo), [f('a')]);
});

t.test('matchParentBinaries: In, NotIn, Prefix and Postfix test the parent\'s binary', { skip }, async (t) => {
  const cmds: [string, string[]][] = [[psh, ['-c', `${CAT} ${f('a')}; true`]], [CAT, [f('b')]]];
  t.same(await opens('parent-in', { matchParentBinaries: [{ operator: 'In', values: [psh] }] }, cmds), [f('a')], 'In: cat forked by psh');
  t.same(await opens('parent-notin', { matchParentBinaries: [{ operator: 'NotIn', values: [psh] }], matchBinaries: [{ operator: 'In', values: [CAT] }] }, cmds),
    [f('b')], 'NotIn: cat forked by the test');
  t.same(await opens('parent-prefix', { matchParentBinaries: [{ operator: 'Prefix', values: [`${dir}/`] }] }, cmds), [f('a')], 'Prefix');
  t.same(await opens('parent-postfix', { matchParentBinaries: [{ operator: 'Postfix', values: ['/psh'] }] }, cmds), [f('a')], 'Postfix');
  t.same(await opens('parent-notpostfix', { matchParentBinaries: [{ operator: 'NotPostfix', values: ['/psh'] }], matchBinaries: [{ operator: 'In', values: [CAT] }] }, cmds),
    [f('b')], 'NotPostfix');
  const k = seen('parent-in')[0];
  t.equal(k.parent && 'binary' in k.parent && k.parent.binary, psh, "the event's parent is psh");
});

t.test('matchPIDs isNamespacePID, with and without followForks: pids as a new pid namespace numbers them', { skip }, async (t) => {
  // In the new namespace: psh is 1, the first cat 2, the inner sh 3, its cat 4.
  const inner = [psh, '-c', `${CAT} ${f('a')}; ${SH} -c "${CAT} ${f('b')}; true"; true`];
  const cmds: [string, string[]][] = [['unshare', ['--pid', '--fork', ...inner]], [CAT, [f('c')]]];
  t.same(await opens('nspid-2', { matchPIDs: [{ operator: 'In', values: [2], followForks: false, isNamespacePID: true }] }, cmds),
    [f('a')], 'In [2]: the first cat only');
  t.same(await opens('nspid-3-follow', { matchPIDs: [{ operator: 'In', values: [3], followForks: true, isNamespacePID: true }] }, cmds),
    [f('b')], 'In [3] followForks: the inner sh\'s cat, not the host cat');
  t.same(await opens('nspid-1-follow', { matchPIDs: [{ operator: 'In', values: [1], followForks: true, isNamespacePID: true }], matchBinaries: [{ operator: 'In', values: [CAT] }] }, [cmds[0]]),
    [f('a'), f('b')], 'In [1] followForks: everything under the namespace\'s init');
  t.same(await opens('nspid-notin-follow', { matchPIDs: [{ operator: 'NotIn', values: [3], followForks: true, isNamespacePID: true }], matchBinaries: [{ operator: 'In', values: [CAT] }] }, cmds),
    [f('a'), f('c')], 'NotIn [3] followForks');
});

const PERL = realpathSync('/usr/bin/perl');

t.test('matchNamespaces: In and NotIn host_ns, and an inode number, tell unshared processes from the host\'s', { skip }, async (t) => {
  const cmds: [string, string[]][] = [[CAT, [f('a')]], ['unshare', ['--uts', CAT, f('b')]], ['unshare', ['--net', CAT, f('c')]]];
  t.same(await opens('ns-uts-host', { matchNamespaces: [{ namespace: 'Uts', operator: 'In', values: ['host_ns'] }] }, cmds), [f('a'), f('c')], 'Uts In host_ns');
  t.same(await opens('ns-uts-other', { matchNamespaces: [{ namespace: 'Uts', operator: 'NotIn', values: ['host_ns'] }] }, cmds), [f('b')], 'Uts NotIn host_ns');
  t.same(await opens('ns-both', { matchNamespaces: [{ namespace: 'Uts', operator: 'In', values: ['host_ns'] }, { namespace: 'Net', operator: 'NotIn', values: ['host_ns'] }] }, cmds),
    [f('c')], 'Uts In host_ns and Net NotIn host_ns');
  const mnt = String((await import('node:fs')).statSync('/proc/self/ns/mnt').ino);
  t.same(await opens('ns-mnt-inum', { matchNamespaces: [{ namespace: 'Mnt', operator: 'In', values: [mnt] }], matchBinaries: [{ operator: 'In', values: [CAT] }] }, cmds),
    [f('a'), f('b'), f('c')], 'Mnt In its inode number: none of them changed it');
});

t.test('matchCapabilities: In and NotIn on the effective set', { skip }, async (t) => {
  const cmds: [string, string[]][] = [[CAT, [f('a')]], ['setpriv', ['--bounding-set', '-sys_admin', CAT, f('b')]]];
  t.same(await opens('cap-in', { matchCapabilities: [{ type: 'Effective', operator: 'In', values: ['CAP_SYS_ADMIN'], isNamespaceCapability: false }] }, cmds),
    [f('a')], 'In CAP_SYS_ADMIN: the root cat');
  t.same(await opens('cap-notin', { matchCapabilities: [{ type: 'Permitted', operator: 'NotIn', values: ['CAP_SYS_ADMIN'], isNamespaceCapability: false }] }, cmds),
    [f('b')], 'NotIn CAP_SYS_ADMIN (permitted): the cat without it');
  t.same(await opens('cap-ns', { matchCapabilities: [{ type: 'Effective', operator: 'In', values: ['CAP_SYS_ADMIN'], isNamespaceCapability: true }] }, cmds),
    [], 'isNamespaceCapability: nothing, all run in the initial user namespace');
});

t.test('matchNamespaceChanges and matchCapabilityChanges: a process that changes after its exec', { skip }, async (t) => {
  // unshare(CLONE_NEWUTS) in the process itself, then an open.
  const unshareThenOpen = [PERL, ['-e', 'syscall(272, 0x04000000) == 0 or die "unshare: $!"; open(my $f, "<", $ARGV[0]);', f('a')]] as [string, string[]];
  const dropThenOpen = [PERL, ['-e', '$> = 65534; open(my $f, "<", $ARGV[0]);', f('b')]] as [string, string[]];
  const plain = [PERL, ['-e', 'open(my $f, "<", $ARGV[0]);', f('c')]] as [string, string[]];
  const fresh = ['unshare', ['--uts', CAT, f('d')]] as [string, string[]];
  const cmds = [unshareThenOpen, dropThenOpen, plain, fresh];
  t.same(await opens('ns-changes-in', { matchNamespaceChanges: [{ operator: 'In', values: ['Uts'] }] }, cmds), [f('a')], 'In Uts: the process that unshared after exec');
  t.same(await opens('ns-changes-notin', { matchNamespaceChanges: [{ operator: 'NotIn', values: ['Uts'] }] }, cmds), [], 'NotIn Uts: no other namespace changed');
  t.same(await opens('cap-changes-in', { matchCapabilityChanges: [{ type: 'Effective', operator: 'In', values: ['CAP_SYS_ADMIN'], isNamespaceCapability: false }] }, cmds),
    [f('b')], 'In CAP_SYS_ADMIN: the process that gave up root after exec');
  t.same(await opens('cap-changes-notin', { matchCapabilityChanges: [{ type: 'Effective', operator: 'NotIn', values: ['CAP_SYS_ADMIN'], isNamespaceCapability: false }] }, cmds),
    [], 'NotIn CAP_SYS_ADMIN: it lost CAP_SYS_ADMIN too, so no');
});
