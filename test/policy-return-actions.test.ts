// On a kprobe with `return: true`, matchActions run at the function's
// entry, as Tetragon runs them, and the event is posted at return with the
// return value. Override there (Tetragon's modules-nohost.yaml and the
// overlayfs CVE policy) skips the function: an fmod_ret program at entry
// returns argError, and the fexit program reports it as the return value.
// matchReturnArgs filter the event, not the actions: a Sigkill fires at
// entry whatever the call returns. Policies are Tetragon-style files.
// fmod_ret may change security_* functions on every kernel (syscalls need
// the kernel's error-injection list), so the Override hook is an LSM one.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, VIGIL } from './lib/agent.js';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, type PolicyAgent } from './lib/policy-agent.js';
import type { PolicyState } from '../agent/policy/manager.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const CAT = realpathSync('/bin/cat');
const MKDIR = realpathSync('/bin/mkdir');
const PERL = realpathSync('/usr/bin/perl');
const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop', 'bpf_send_signal']);
const noOverride = await lacking(['fmod_ret', 'fexit']);

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-ret-act-')));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'kill'));
writeFileSync(join(dir, 'kill/present.txt'), 'x\n');

const ours = (policy: string, pid?: number) => (ev: TetragonEvent): boolean =>
  ev.process_kprobe?.policy_name === policy && (pid === undefined || ev.process_kprobe.process.pid === pid);

/** security_inode_mkdir by /bin/mkdir (an LSM hook: fmod_ret may change security_* functions on every kernel). */
const MKDIR_POLICY = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: mkdir-return-override
spec:
  kprobes:
  - call: security_inode_mkdir
    syscall: false
    return: true
    args:
    - index: 2
      type: int
    returnArg:
      index: 0
      type: int
    selectors:
    - matchBinaries:
      - operator: In
        values: ["${MKDIR}"]
      matchActions:
      - action: Override
        argError: -1
`;

const KILL_POLICY = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: open-return-kill
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    return: true
    args:
    - index: 1
      type: string
    returnArg:
      index: 0
      type: int
    selectors:
    - matchBinaries:
      - operator: In
        values: ["${CAT}"]
      matchArgs:
      - index: 1
        operator: Prefix
        values: ["${dir}/kill/"]
      matchReturnArgs:
      - index: 0
        operator: Equal
        values: ["-2"]
      matchActions:
      - action: Sigkill
`;

// One agent holds both policies (an agent start is slow under qemu).
let p: PolicyAgent;
let states: PolicyState[] = [];
t.before(async () => {
  if (skip) return;
  const files = [['mkdir', MKDIR_POLICY], ['kill', KILL_POLICY]].map(([name, yaml]) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    return file;
  });
  p = await startPolicyAgent({ policies: files });
  const r = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', join(p.dir, 'vigil.sock')]);
  states = JSON.parse(r.stdout) as PolicyState[];
});
t.teardown(() => p?.stop());
const stateOf = (name: string): PolicyState => states.find((s) => s.name === name)!;

t.test('Override on a return probe needs fmod_ret and fexit: without them the policy is refused, not weakened to a report', { skip }, async (t) => {
  const state = stateOf('mkdir-return-override');
  if (noOverride) {
    t.equal(state.state, 'error');
    t.match(state.errors.join('\n'), /has an Override action, which needs fmod_ret and fexit on security_inode_mkdir/);
  } else {
    t.equal(state.state, 'loaded', state.errors.join('; '));
    t.match(state.hooks[0], { mechanism: 'fexit' });
    t.match(state.hooks[0].reason, /fmod_ret at entry/);
  }
});

t.test('Override on a return probe: mkdir is refused at entry, and the event reports the return value -1', { skip: skip || noOverride }, async (t) => {
  const denied = await runCommand('/bin/sh', ['-c', `exec ${MKDIR} ${join(dir, 'blocked')} 2>&1`]);
  t.not(denied.code, 0, 'mkdir fails');
  t.match(denied.stdout, /Operation not permitted/, 'with EPERM, the error Override returned');
  t.notOk(existsSync(join(dir, 'blocked')), 'the directory was not made: the function was skipped');
  const k = (await p.waitFor(ours('mkdir-return-override', denied.pid), 'the refused mkdir')).process_kprobe!;
  t.equal(k.action, 'KPROBE_ACTION_OVERRIDE');
  t.same(k.return, { int_arg: -1 }, 'fexit saw the overridden return value');
  t.same(k.args, [{ int_arg: 0o777 }], 'the mode mkdir asked for');

  const allowed = await runCommand(PERL, ['-e', `mkdir(${JSON.stringify(join(dir, 'allowed'))}) or die`]);
  t.equal(allowed.code, 0, 'another binary makes its directory');
  t.ok(existsSync(join(dir, 'allowed')));
  await p.waitFor((ev) => ev.process_exit?.process.pid === allowed.pid, 'the allowed mkdir\'s exit');
  t.notOk(p.events().some(ours('mkdir-return-override', allowed.pid)), 'and is not posted');
});

t.test('Sigkill in matchActions of a return probe fires at entry: matchReturnArgs filter only the event', { skip }, async (t) => {
  const policy = 'open-return-kill';
  t.equal(stateOf(policy).state, 'loaded', stateOf(policy).errors.join('; '));
  const present = await runCommand(CAT, [join(dir, 'kill/present.txt')]);
  t.equal(present.signal, 'SIGKILL', 'the open of a present file (it would return a descriptor) is killed at entry');
  t.equal(present.stdout, '', 'cat read nothing');
  const missing = await runCommand(CAT, [join(dir, 'kill/missing.txt')]);
  t.equal(missing.signal, 'SIGKILL');
  const k = (await p.waitFor(ours(policy, missing.pid), 'the failed open')).process_kprobe!;
  t.same(k.return, { int_arg: -2 }, 'the open that returned -ENOENT is posted');
  t.equal(k.action, 'KPROBE_ACTION_SIGKILL');
  await p.waitFor((ev) => ev.process_exit?.process.pid === present.pid, 'the killed cat\'s exit');
  t.notOk(p.events().some(ours(policy, present.pid)), 'the open that succeeded is not posted: its return value did not match');

  const other = await runCommand(CAT, [join(dir, 'elsewhere.txt')]);
  t.equal(other.signal, null, 'an open outside the prefix is left alone');
});
