// The policy compiler (policies/compiler/compile.ts, connect.ts): a policy
// to complete hooks for a kernel described as data, connect denies to
// cgroup rules, and every problem as an error at its field.
import t from 'tap';
import { parse } from 'yaml';
import { compilePolicy } from '../../policies/compiler/compile.js';
import { compileRules, connectFit, connectRules } from '../../policies/compiler/connect.js';
import type { KProbeSpec, TracingPolicy } from '../../policies/types.generated.js';
import { describedKernel, HOST_LIKE, STOCK_LIKE } from '../lib/described-kernel.js';

const policy = (spec: string): TracingPolicy => ({ apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: 'p' }, spec: parse(spec) });

const openat = policy(`
kprobes:
- call: sys_openat
  syscall: true
  args: [{ index: 1, type: string }]
  selectors:
  - matchArgs: [{ index: 1, operator: Prefix, values: [/etc/] }]
tracepoints:
- subsystem: sched
  event: sched_process_exec
`);

t.test('each hook gets its mechanism and its bytes before anything loads', async (t) => {
  const c = compilePolicy(openat, HOST_LIKE);
  t.same(c.errors, []);
  t.same(c.hooks.map((h) => [h.kind, h.path, h.choice.mechanism]), [['generic', 'spec.kprobes[0]', 'tracepoint'], ['generic', 'spec.tracepoints[0]', 'tracepoint']]);
  const [k] = c.hooks;
  t.equal(k.kind === 'generic' && k.encoded.prefix.length, 1, 'the Prefix value is in the prefix trie');
  t.equal(k.choice.functionName, '__x64_sys_openat');
  t.match(compilePolicy(openat, STOCK_LIKE).hooks[0].choice, { mechanism: 'kprobe', target: { function: '__x64_sys_openat' } });
});

t.test('spec.options fail-closed reaches every hook of the policy', async (t) => {
  const withOption = (value: string): TracingPolicy => ({ ...openat, spec: { ...openat.spec, options: [{ name: 'fail-closed', value }] } });
  t.same(compilePolicy(withOption('true'), HOST_LIKE).hooks.map((h) => h.plan.failClosed), [true, true]);
  t.same(compilePolicy(withOption('false'), HOST_LIKE).hooks.map((h) => h.plan.failClosed), [undefined, undefined]);
  t.same(compilePolicy(openat, HOST_LIKE).hooks.map((h) => h.plan.failClosed), [undefined, undefined]);
});

t.test('a tracepoint the kernel lacks, and a syscall without a mechanism, are errors at the hook', async (t) => {
  const k = describedKernel(['tracepoints'], { noTracepoints: ['sched_process_exec', 'sys_enter_openat'] });
  const c = compilePolicy(openat, k);
  t.same(c.hooks, []);
  t.match(c.errors, [
    { path: 'spec.kprobes[0]', code: 'VIGIL_NOT_SUPPORTED', message: /needs kprobes or fentry or syscall tracepoints; .*tracepoint: this kernel has no tracepoint syscalls\/sys_enter_openat/ },
    { path: 'spec.tracepoints[0]', code: 'VIGIL_NOT_SUPPORTED', message: /sched\/sched_process_exec does not exist/ },
  ]);
});

t.test('ignore.callNotFound turns a hook this kernel cannot run into a skip', async (t) => {
  const p = policy(`
kprobes:
- call: commit_creds
  syscall: false
  ignore: { callNotFound: true }
- call: sys_openat
  syscall: true
`);
  const c = compilePolicy(p, HOST_LIKE);
  t.same(c.hooks.map((h) => h.path), ['spec.kprobes[1]']);
  t.match(c.errors, [{ path: 'spec.kprobes[0]', skipped: true, code: 'VIGIL_NOT_SUPPORTED' }]);
});

t.test('encoder problems are errors at the field they are about, with their code', async (t) => {
  const p = policy(`
kprobes:
- call: sys_openat
  syscall: true
  args: [{ index: 0, type: int }]
  selectors:
  - matchArgs: [{ index: 0, operator: Equal, values: ["4294967296"] }]
`);
  t.match(compilePolicy(p, HOST_LIKE).errors, [{ path: 'spec.kprobes[0].selectors[0].matchArgs[0].values[0]', code: 'VIGIL_POLICY_INVALID', message: '4294967296 does not fit int' }]);
  const many = policy(`
kprobes:
- call: sys_openat
  syscall: true
  selectors: ${JSON.stringify(Array(33).fill({ matchActions: [{ action: 'Post' }] }))}
`);
  t.match(compilePolicy(many, HOST_LIKE).errors, [{ path: 'spec.kprobes[0]', message: '33 selectors, at most 32' }], 'selector limits, checked before load');
});

t.test('an unsupported part of the language fails the whole policy, never silently dropped', async (t) => {
  const p = policy(`
lists:
- name: all
  type: generated_syscalls
kprobes:
- call: list:all
  syscall: true
- call: sys_openat
  syscall: true
  selectors:
  - matchActions: [{ action: DnsLookup, argFqdn: example.com }]
`);
  const c = compilePolicy(p, STOCK_LIKE);
  t.same(c.hooks, [], 'no hook of a broken policy');
  t.match(c.errors, [
    { path: 'spec.kprobes[0].call', message: /generated_syscalls, which Vigil does not expand yet/ },
    { path: 'spec.kprobes[1].selectors[0].matchActions[0].action', message: /action "DnsLookup" is not supported by Vigil: the kernel programs make no requests/ },
  ]);
});

const deny = (selectors: string): KProbeSpec => parse(`
call: tcp_connect
syscall: false
args: [{ index: 0, type: sock }]
selectors: ${selectors}
`);

t.test('connect rules: destination address, port and protocol with Override only', async (t) => {
  const rules = connectRules(deny(`
- matchArgs:
  - { index: 0, operator: DAddr, values: [192.0.2.0/24, "2001:db8::/32"] }
  - { index: 0, operator: NotDPort, values: ["80", "8000:8080"] }
  - { index: 0, operator: Protocol, values: [IPPROTO_TCP] }
  matchActions: [{ action: Override, argError: -1 }]
- matchArgs: [{ index: 0, operator: NotDAddr, values: [10.0.0.0/8] }]
  matchActions: [{ action: Override, argError: -1 }]
`), 5);
  t.same(rules, [
    { id: 5, cidrs: ['192.0.2.0/24', '2001:db8::/32'], selector: 0, notCidrs: false, ports: [[80, 80], [8000, 8080]], notPorts: true, protocol: 'tcp' },
    { id: 6, cidrs: ['10.0.0.0/8'], selector: 1, notCidrs: true, protocol: 'tcp' },
  ]);
  const override = 'matchActions: [{ action: Override, argError: -1 }]';
  const no = (why: string, selectors: string, field: string, reason: RegExp) =>
    t.match(connectFit(deny(selectors), 0, 'spec.kprobes[3]'), { unfit: { field, why: reason } }, why);
  no('a Sigkill beside an Override is not a connect deny', `[{ matchArgs: [{ index: 0, operator: DAddr, values: [192.0.2.1] }], ${override} }, { matchActions: [{ action: Sigkill }] }]`,
    'spec.kprobes[3].selectors[1].matchActions[0].action', /Sigkill is not enforced by the cgroup connect programs/);
  no('a capability filter is not evaluated there', `[{ matchCapabilities: [{ type: Effective, operator: In, values: [CAP_NET_RAW] }], ${override} }]`,
    'spec.kprobes[3].selectors[0].matchCapabilities', /matchCapabilities is not evaluated by the cgroup connect programs/);
  no('a source address is not a destination', `[{ matchArgs: [{ index: 0, operator: SAddr, values: [192.0.2.1] }], ${override} }]`,
    'spec.kprobes[3].selectors[0].matchArgs[0].operator', /SAddr on a sock arg is not a destination/);
  no('DAddr and NotDAddr in one selector are two sets, not one rule',
    `[{ matchArgs: [{ index: 0, operator: DAddr, values: [10.0.0.0/8] }, { index: 0, operator: NotDAddr, values: [10.1.0.0/16] }], ${override} }]`,
    'spec.kprobes[3].selectors[0].matchArgs[1].operator', /a second addr filter in one selector/);
  no('two port filters in one selector', `[{ matchArgs: [{ index: 0, operator: DPort, values: ["1:100"] }, { index: 0, operator: DPort, values: ["50"] }], ${override} }]`,
    'spec.kprobes[3].selectors[0].matchArgs[1].operator', /a second port filter/);
  no('an unknown protocol', `[{ matchArgs: [{ index: 0, operator: Protocol, values: [IPPROTO_SCTP] }], ${override} }]`,
    'spec.kprobes[3].selectors[0].matchArgs[0].values', /TCP and UDP apart/);
  no('an arg that is not declared', `[{ matchArgs: [{ index: 2, operator: DAddr, values: [10.0.0.1] }], ${override} }]`,
    'spec.kprobes[3].selectors[0].matchArgs[0].index', /arg 2 is not declared/);
  t.equal(connectRules({ ...deny(`[{ ${override} }]`), call: 'vfs_open' }, 0), undefined, 'not a connect function');
  t.equal(connectFit(deny('[{ matchActions: [{ action: Post }] }]'), 0), undefined, 'no Override: not a deny at all');
});

const tetragon = (selectors: string): KProbeSpec => parse(`
call: security_socket_connect
syscall: false
args: [{ index: 0, type: socket }, { index: 1, type: sockaddr }, { index: 2, type: int }]
selectors: ${selectors}
`);

t.test('Tetragon\'s security_socket_connect form: the sockaddr\'s SAddr and SPort are the destination, Family picks connect4 or connect6', async (t) => {
  const rules = connectRules(tetragon(`
- matchArgs:
  - { index: 0, operator: Protocol, values: [IPPROTO_TCP] }
  - { index: 1, operator: Family, values: [AF_INET] }
  - { index: 1, operator: SAddr, values: [192.0.2.0/24] }
  - { index: 1, operator: SPort, values: ["443"] }
  matchBinaries: [{ operator: In, values: [/usr/bin/curl] }]
  matchActions: [{ action: Override, argError: -1 }]
- matchArgs:
  - { index: 1, operator: Family, values: [AF_INET, AF_INET6] }
  - { index: 1, operator: NotSPortPriv }
  matchPIDs: [{ operator: In, values: [1], followForks: true }]
  matchNamespaces: [{ namespace: Net, operator: NotIn, values: [host_ns] }]
  matchActions: [{ action: Override, argError: -1 }]
`), 0);
  t.same(rules, [
    { id: 0, cidrs: ['192.0.2.0/24'], selector: 0, protocol: 'tcp', family: 4, notCidrs: false, ports: [[443, 443]], notPorts: false },
    { id: 1, cidrs: [], selector: 1, ports: [[0, 1023]], notPorts: true },
  ], 'both families is either; NotSPortPriv is ports outside 0..1023');
  t.match(connectRules(tetragon('[{ matchArgs: [{ index: 0, operator: Protocol, values: [IPPROTO_TCP, IPPROTO_UDP] }], matchActions: [{ action: Override, argError: -1 }] }]'), 0),
    [{ protocol: 'tcp+udp' }], 'TCP and UDP is not any protocol: ICMP and raw sockets stay out');
  t.match(compileRules([{ id: 0, cidrs: [], protocol: 'tcp+udp' }]).rodata, { rules_tcp: 1n, rules_udp: 1n, rules_any_proto: 0n }, 'its bit is in the TCP and UDP masks only');
  const unfit = (what: string, selectors: string, field: string, why: RegExp) => t.match(connectFit(tetragon(selectors), 0), { unfit: { field, why } }, what);
  unfit('the socket\'s DAddr is not the destination before connect', '[{ matchArgs: [{ index: 0, operator: DAddr, values: [192.0.2.1] }], matchActions: [{ action: Override }] }]',
    'spec.kprobes[0].selectors[0].matchArgs[0].operator', /the socket before it connects, not the destination; match SAddr and SPort on the sockaddr arg/);
  unfit('AF_UNIX never reaches the cgroup programs', '[{ matchArgs: [{ index: 1, operator: Family, values: [AF_UNIX] }], matchActions: [{ action: Override }] }]',
    'spec.kprobes[0].selectors[0].matchArgs[0].values', /AF_INET and AF_INET6 connects, no other family/);
  unfit('Sigkill beside Override', '[{ matchActions: [{ action: Override }, { action: Sigkill }] }]',
    'spec.kprobes[0].selectors[0].matchActions[1].action', /Sigkill beside Override is not enforced/);
  t.same(connectRules(tetragon(`
- matchArgs: [{ index: 1, operator: SAddr, values: [192.0.2.1] }, { index: 1, operator: SPort, values: ["80"] }]
  matchActions: [{ action: Post }]
- matchArgs: [{ index: 1, operator: SAddr, values: [192.0.2.2] }]
  matchActions: [{ action: NoPost }]
- matchArgs: [{ index: 0, operator: Protocol, values: [IPPROTO_TCP] }]
  matchActions: [{ action: Override, argError: -1 }]
`), 0), [
    { id: 0, cidrs: ['192.0.2.1'], selector: 0, allow: 'post', notCidrs: false, ports: [[80, 80]], notPorts: false },
    { id: 1, cidrs: ['192.0.2.2'], selector: 1, allow: 'silent', notCidrs: false },
    { id: 2, cidrs: [], selector: 2, protocol: 'tcp' },
  ], 'Tetragon\'s "block others": Post selectors before the deny allow what they match, in selector order');

  const p: TracingPolicy = { ...openat, spec: { kprobes: [tetragon('[{ matchArgs: [{ index: 1, operator: SAddr, values: [192.0.2.1] }], matchBinaries: [{ operator: In, values: [/usr/bin/curl] }], matchActions: [{ action: Override, argError: -1 }] }]')] } };
  const [h] = compilePolicy(p, HOST_LIKE).hooks;
  t.match(h, { kind: 'connect', choice: { mechanism: 'cgroup_connect' }, plan: { args: [{ index: 1, type: 'sockaddr' }] } }, 'reported with the sockaddr');
  if (h.kind !== 'connect') return;
  t.equal(h.process?.plan.selectors[0].matchBinaries[0].values[0], '/usr/bin/curl', 'the binary filter is kept for the programs');
  t.equal(h.process?.encoded.eq.length, 1, 'its value is in the string map');
  t.equal(h.process?.plan.args.length, 0, 'no arg is read by the process stage');

  const caps = { ...openat, spec: { kprobes: [tetragon('[{ matchCapabilities: [{ type: Effective, operator: In, values: [CAP_NET_RAW] }], matchActions: [{ action: Override, argError: -1 }] }]')] } };
  t.match(compilePolicy(caps, HOST_LIKE).errors, [{ path: 'spec.kprobes[0].selectors[0].matchCapabilities', message: /cgroup_connect: spec\.kprobes\[0\]\.selectors\[0\]\.matchCapabilities: matchCapabilities is not evaluated by the cgroup connect programs/ }],
    'without fmod_ret, the error is at the field that keeps the cgroup programs from running it, and says why');
  t.match(compilePolicy(caps, describedKernel(['kprobes', 'fentry', 'fmod_ret'])).hooks[0], { kind: 'generic', choice: { mechanism: 'fmod_ret' } }, 'with fmod_ret, it runs there');
});

t.test('a connect deny compiles to cgroup programs where the kernel has them, with its rules and report', async (t) => {
  const p: TracingPolicy = { ...openat, spec: { kprobes: [deny('[{ matchArgs: [{ index: 0, operator: DAddr, values: [192.0.2.0/24] }], matchActions: [{ action: Override, argError: -1 }] }]')] } };
  const [h] = compilePolicy(p, HOST_LIKE).hooks;
  t.equal(h.kind, 'connect');
  if (h.kind !== 'connect') return;
  t.match(h.choice, { mechanism: 'cgroup_connect', target: { cgroup: '/sys/fs/cgroup' } });
  t.same(h.rules, [{ id: 0, cidrs: ['192.0.2.0/24'], selector: 0, notCidrs: false, protocol: 'tcp' }], 'a hook on tcp_connect implies TCP');
  t.equal(h.connect.v4.length, 1, 'one IPv4 prefix in the trie');
  t.same(h.plan.args, [{ index: 0, type: 'sock' }], 'denials are reported with the destination as the sock arg');
  t.match(compilePolicy(p, describedKernel(['kprobes', 'fentry', 'fmod_ret'])).hooks[0], { kind: 'generic', choice: { mechanism: 'fmod_ret' } },
    'without cgroup hooks the same policy runs on fmod_ret');
});

t.test('a policy limited to pods carries its scope into every hook, or is refused at the field that limits it', async (t) => {
  const scoped = (over: Partial<TracingPolicy>, spec = ''): TracingPolicy => ({ ...openat, ...over, spec: { ...openat.spec, ...parse(spec || '{}') } });
  const cases: [string, TracingPolicy, string, object][] = [
    ['a TracingPolicyNamespaced', scoped({ kind: 'TracingPolicyNamespaced', metadata: { name: 'p', namespace: 'web' } }), 'metadata.namespace', { namespace: 'web' }],
    ['a podSelector', scoped({}, 'podSelector: { matchLabels: { app: web } }'), 'spec.podSelector', { podSelector: { matchLabels: { app: 'web' } } }],
    ['an empty podSelector (every pod, but no host process)', scoped({}, 'podSelector: {}'), 'spec.podSelector', { podSelector: {} }],
    ['a containerSelector', scoped({}, 'containerSelector: { matchLabels: { name: main } }'), 'spec.containerSelector', { containerSelector: { matchLabels: { name: 'main' } } }],
  ];
  const noScope = describedKernel(['tracepoints', 'tp_btf', 'kprobes', 'bpf_send_signal', 'cgroup_hooks']);
  for (const [what, p, path, scope] of cases) {
    for (const k of [HOST_LIKE, STOCK_LIKE]) {
      const c = compilePolicy(p, k);
      t.same(c.errors, [], `${what}: compiles`);
      t.same(c.hooks.map((h) => h.plan.scope), [scope, scope], `${what}: every hook carries the scope`);
      t.ok(c.hooks.every((h) => h.kind === 'generic' && h.encoded.config[12] === 1), `${what}: every hook is encoded scoped`);
    }
    const c = compilePolicy(p, noScope);
    t.same(c.hooks, [], `${what}, on a kernel without cgroup_scope: no hook, never one that acts host-wide`);
    t.match(c.errors, [{ path, code: 'VIGIL_NOT_SUPPORTED', message: /^a policy limited to pods needs cgroup_scope, which is not supported by this kernel: attach failed/ }],
      `${what}: refused at ${path}`);
  }
  t.ok(compilePolicy(openat, HOST_LIKE).hooks.every((h) => h.plan.scope === undefined && h.kind === 'generic' && h.encoded.config[12] === 0), 'a TracingPolicy without selectors is host-wide');
  const denyPods: TracingPolicy = {
    ...openat, spec: { podSelector: {}, kprobes: [deny('[{ matchArgs: [{ index: 0, operator: DAddr, values: [192.0.2.0/24] }], matchActions: [{ action: Override, argError: -1 }] }]')] },
  };
  t.match(compilePolicy(denyPods, HOST_LIKE).hooks, [{ kind: 'connect', plan: { scope: { podSelector: {} } } }], 'a connect deny on cgroup programs carries the scope too');
});

t.test('action fields and arg resolve that Vigil does not act on are refused at their field, never dropped', async (t) => {
  const c = compilePolicy(policy(`
kprobes:
- call: sys_openat
  syscall: true
  args: [{ index: 1, type: string }, { index: 0, type: int, resolve: "f_path.dentry" }]
  selectors:
  - matchActions: [{ action: Post, kernelStackTrace: true, userStackTrace: false, imaHash: true }]
`), HOST_LIKE);
  t.same(c.errors.map((e) => e.path), [
    'spec.kprobes[0].args[1].resolve',
    'spec.kprobes[0].selectors[0].matchActions[0].kernelStackTrace',
    'spec.kprobes[0].selectors[0].matchActions[0].imaHash',
  ]);
  t.match(c.errors[1].message, /kernelStackTrace is not supported by Vigil yet: events carry no stack traces/);
});
