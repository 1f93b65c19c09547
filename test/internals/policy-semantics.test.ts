// Where Vigil reads a policy as Tetragon does: tracepoint matchArgs.index
// is a position in the hook's args, matchArgs.args are positions on every
// hook, and what Tetragon ignores (argError on Sigkill, returnArg without
// return: true, a positive argError) is a warning, not an error; argument
// types the kernel programs do not read are lint errors at their type.
import t from 'tap';
import { parse } from 'yaml';
import { compilePolicy } from '../../policies/compiler/compile.js';
import { checkSemantics } from '../../policies/validate/semantic.js';
import type { TracingPolicy } from '../../policies/types.generated.js';
import { formatPath } from '../../policies/validate/path.js';
import { HOST_LIKE } from '../lib/described-kernel.js';

const policy = (spec: string): TracingPolicy => ({ apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: 'p' }, spec: parse(spec) });
const findings = (p: TracingPolicy) => checkSemantics(p).map((f) => ({ path: formatPath(f.path), severity: f.severity ?? 'error', message: f.message }));

t.test('tracepoint matchArgs.index is a position in args (killer.yaml), and matchArgs.args are positions everywhere', async (t) => {
  const p = policy(`
tracepoints:
- subsystem: raw_syscalls
  event: sys_enter
  args: [{ index: 4, type: int64 }]
  selectors:
  - matchArgs: [{ index: 0, operator: Equal, values: ["59"] }]
  - matchArgs: [{ index: 4, operator: Equal, values: ["60"] }]
kprobes:
- call: sys_openat
  args: [{ index: 1, type: string }, { index: 2, type: int }]
  selectors:
  - matchArgs: [{ args: [1], operator: Equal, values: ["0"] }]
`);
  t.same(findings(p).filter((f) => f.severity === 'error'), []);
  // raw_syscalls/sys_enter's format: the common fields, then id and args.
  const fields = ['common_type', 'common_flags', 'common_preempt_count', 'common_pid', 'id', 'args']
    .map((name, i) => ({ name, offset: [0, 2, 3, 4, 8, 16][i], size: [2, 1, 1, 4, 8, 48][i], signed: false, type: name === 'args' ? 'unsigned long[6]' : 'long' }));
  const c = compilePolicy(p, { ...HOST_LIKE, tracepointFields: () => fields } as typeof HOST_LIKE);
  t.same(c.errors, []);
  const tp = c.hooks.find((h) => h.plan.kind === 'tracepoint')!;
  t.same(tp.plan.selectors.map((s) => s.matchArgs[0].index), [4, 4], 'position 0 is the arg of field 4; 4 past the list names that field too');
  const kp = c.hooks.find((h) => h.plan.kind === 'kprobe')!;
  t.equal(kp.plan.selectors[0].matchArgs[0].index, 2, 'args: [1] is the second declared arg, index 2');
  const past = policy(`
tracepoints:
- subsystem: raw_syscalls
  event: sys_enter
  args: [{ index: 4, type: int64 }]
  selectors:
  - matchArgs: [{ index: 2, operator: Equal, values: ["1"] }]
`);
  t.match(findings(past), [{ path: 'spec.tracepoints[0].selectors[0].matchArgs[0].index', severity: 'error', message: /position in args/ }]);
});

t.test('what Tetragon ignores is a warning: argError on Sigkill, returnArg without return, a positive argError', async (t) => {
  const p = policy(`
kprobes:
- call: security_bprm_check
  syscall: false
  returnArg: { index: 0, type: int }
  selectors:
  - matchActions: [{ action: Sigkill, argError: -1 }]
- call: security_socket_connect
  syscall: false
  selectors:
  - matchActions: [{ action: Override, argError: 1 }]
`);
  t.same(findings(p).filter((f) => f.severity === 'error'), [], 'no errors');
  const warned = findings(p).map((f) => f.path);
  t.ok(warned.includes('spec.kprobes[0].returnArg'), 'returnArg without return');
  t.ok(warned.includes('spec.kprobes[0].selectors[0].matchActions[0].argError'), 'argError on Sigkill');
  t.ok(warned.includes('spec.kprobes[1].selectors[0].matchActions[0].argError'), 'a positive argError');
});

t.test('an argument type the kernel programs do not read is an error at its type, with what to do', async (t) => {
  const p = policy(`
kprobes:
- call: sys_bpf
  args: [{ index: 0, type: nop }, { index: 1, type: iov_iter }, { index: 2, type: int }, { index: 3, type: sockaddr_un }]
`);
  t.same(findings(p).map((f) => [f.path, f.severity, f.message.replace(/:.*/, '')]), [
    ['spec.kprobes[0].args[1].type', 'error', 'argument type iov_iter is not read by Vigil\'s kernel programs yet'],
    ['spec.kprobes[0].args[3].type', 'error', 'argument type sockaddr_un is not read by Vigil\'s kernel programs yet'],
  ], 'nop is taken: its place is kept, nothing is read');
});

t.test('kernel objects are read; data_loc only on a tracepoint', async (t) => {
  const p = policy(`
kprobes:
- call: security_bpf
  args: [{ index: 0, type: bpf_cmd }, { index: 1, type: bpf_attr }, { index: 2, type: data_loc }]
`);
  t.same(findings(p).map((f) => [f.path, f.severity, f.message]), [
    ['spec.kprobes[0].args[2].type', 'error', 'data_loc reads a __data_loc field of a tracepoint\'s record'],
  ]);
});
