// A user writes Tetragon's raw_syscalls policy: `syscall64` reads the
// syscall number from raw_syscalls/sys_enter and reports it as
// syscall_id; a `nop` arg keeps its place in args and is neither read nor
// reported. Types Vigil does not read stay lint errors at their field.
import t from 'tap';
import { writeFileSync, realpathSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './lib/agent.js';
import { lacking, SLOWDOWN } from './lib/kernel.js';
import { startPolicyAgent, type PolicyAgent } from './lib/policy-agent.js';
import { lintText } from '../policies/validate/index.js';

const UNAME = realpathSync('/bin/uname');
const SYS_UNAME = 63; // x86-64
const skip = await lacking(['tracepoints', 'ring_buffer']);

const policy = (selectorArgs: string) => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: raw-syscalls
spec:
  tracepoints:
  - subsystem: raw_syscalls
    event: sys_enter
    args:
    - index: 5
      type: nop
    - index: 4
      type: syscall64
    selectors:
    - matchArgs:
      - ${selectorArgs}
        operator: Equal
        values: ["${SYS_UNAME}"]
      matchBinaries:
      - operator: In
        values: ["${UNAME}"]
`;

let p: PolicyAgent;
let dir: string;
t.before(async () => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-argtypes-')));
  writeFileSync(join(dir, 'raw.yaml'), policy('index: 1'));
  p = await startPolicyAgent({ policies: [join(dir, 'raw.yaml')] });
});
t.teardown(async () => {
  await p?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

t.test('syscall64 on raw_syscalls/sys_enter: uname\'s own uname(2) is reported as syscall_id, the nop arg is not', { skip }, async (t) => {
  t.match(p.agent.status(), { policies: [{ name: 'raw-syscalls', state: 'loaded' }] });
  const r = await runCommand(UNAME, []);
  const ev = await p.waitFor((e) => e.process_tracepoint?.policy_name === 'raw-syscalls' && e.process_tracepoint.process.pid === r.pid, 'the uname syscall', 20_000 * SLOWDOWN);
  const tp = ev.process_tracepoint!;
  t.equal(tp.subsys, 'raw_syscalls');
  t.equal(tp.event, 'sys_enter');
  t.same(tp.args, [{ syscall_id: { id: SYS_UNAME, abi: 'x64' } }], 'one arg: the syscall, not the nop');
  await p.waitFor((e) => e.process_exit?.process.pid === r.pid, 'uname exits', 20_000 * SLOWDOWN);
  const all = p.events().filter((e) => e.process_tracepoint?.policy_name === 'raw-syscalls');
  t.ok(all.every((e) => e.process_tracepoint!.args[0].syscall_id?.id === SYS_UNAME), 'other syscalls of uname are filtered out in the kernel');
});

t.test('a filter on a nop arg, and types Vigil does not read, are lint errors at their field', async (t) => {
  const nop = lintText(policy('index: 0'), 'raw.yaml', { kernel: false });
  t.match(nop.errors.map((e) => `${e.path}: ${e.message}`), [/^spec\.tracepoints\[0\]\.selectors\[0\]\.matchArgs\[0\]\.operator: operator Equal does not apply to an arg of type nop/]);
  const other = lintText(policy('index: 1').replace('type: nop', 'type: kiocb'), 'raw.yaml', { kernel: false });
  t.match(other.errors.map((e) => `${e.path}: ${e.message}`), [/^spec\.tracepoints\[0\]\.args\[0\]\.type: argument type kiocb is not read by Vigil's kernel programs yet/]);
});
