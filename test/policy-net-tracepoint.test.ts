// A user hooks network tracepoints and connect(2) with network args, on
// kernels without kprobes: sock:inet_sock_set_state's skaddr as a sock,
// net:net_dev_queue's skbaddr as an skb, and sys_connect's sockaddr (user
// memory; the syscall tracepoint where kprobes are missing). Real loopback
// connections, IPv4 and IPv6, give events with the sockets' real 5-tuples,
// and each network operator, filtered in the kernel, reports exactly the
// sockets, packets and connects it names.
import t from 'tap';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lacking } from './lib/kernel.js';
import { connectTuple, listen, type Tuple } from './lib/net.js';
import { selector, startPolicyAgent, syscallPlan, policyBody, type PolicyAgent } from './lib/policy-agent.js';
import type { ArgFilter, HookPlan } from '../policies/compiler/plan.js';
import type { KprobeArgument, TetragonEvent } from '../exporters/tetragon.js';

const skip = await lacking(['tracepoints', 'ring_buffer', 'bpf_loop']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Servers on 127.0.0.1:P, ::1:P, 127.0.0.2:Q, ::1:Q and a privileged port; one connection to each. */
async function loopback(t: Tap) {
  const p6 = await listen('::1');
  const P = p6.port;
  const p4 = await listen('127.0.0.1', P);
  const q6 = await listen('::1');
  const Q = q6.port;
  const q4 = await listen('127.0.0.2', Q);
  let priv: Awaited<ReturnType<typeof listen>> | undefined;
  for (let port = 1000; !priv && port > 900; port--) priv = await listen('127.0.0.1', port).catch(() => undefined);
  if (!priv) throw new Error('no free privileged port on 127.0.0.1');
  const servers = [p6, p4, q6, q4, priv];
  t.teardown(() => servers.forEach((s) => s.server.close()));
  const targets: [string, number][] = [['127.0.0.1', P], ['127.0.0.2', Q], ['::1', P], ['::1', Q], ['127.0.0.1', priv.port]];
  return { P, Q, PRIV: priv.port, servers, targets };
}

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];
type Lab = Awaited<ReturnType<typeof loopback>>;

async function connectAll(lab: Lab): Promise<{ clients: Tuple[]; accepted: Tuple[] }> {
  const clients: Tuple[] = [];
  for (const [host, port] of lab.targets) {
    const r = await connectTuple(host, port);
    if (typeof r === 'string') throw new Error(`connect to ${host}:${port}: ${r}`);
    clients.push(r);
  }
  for (let i = 0; i < 100 && lab.servers.reduce((n, s) => n + s.accepted.length, 0) < clients.length; i++) await sleep(20);
  return { clients, accepted: lab.servers.flatMap((s) => s.accepted) };
}

function loadAll(t: Tap, p: PolicyAgent, plans: HookPlan[]): void {
  for (const plan of plans) {
    const state = p.agent.loadHook(plan);
    t.teardown(() => p.agent.unloadHook(state.hookId));
  }
}

const argOf = (ev: TetragonEvent, i: number): KprobeArgument | undefined => policyBody(ev)?.args[i];
const eventsOf = (p: PolicyAgent, name: string): TetragonEvent[] => p.events().filter((ev) => policyBody(ev)?.policy_name === name);
const key = (x: { family: 4 | 6 | string; saddr?: string; daddr?: string; sport?: number; dport?: number }): string =>
  `${x.family === 4 || x.family === 'AF_INET' ? 4 : 6} ${x.saddr ?? ''} ${x.sport ?? 0} > ${x.daddr ?? ''} ${x.dport ?? 0}`;

interface Case {
  name: string;
  filters: Omit<ArgFilter, 'index'>[];
  /** Which sockets (their own view: s = this end) the filters select. */
  expect: (s: Tuple & { client: boolean }) => boolean;
}

t.test('sock args on sock:inet_sock_set_state: the 5-tuple, and every sock operator in the kernel', { skip }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const lab = await loopback(t);
  const { P, Q, PRIV } = lab;
  const cases: Case[] = [
    { name: 'all', filters: [], expect: () => true },
    { name: 'saddr', filters: [{ operator: 'SAddr', values: ['127.0.0.2'] }], expect: (s) => s.saddr === '127.0.0.2' },
    { name: 'not-saddr', filters: [{ operator: 'NotSAddr', values: ['127.0.0.2/32', '::1'] }], expect: (s) => s.saddr !== '127.0.0.2' && s.saddr !== '::1' },
    { name: 'daddr', filters: [{ operator: 'DAddr', values: ['127.0.0.2', '::/0'] }], expect: (s) => s.daddr === '127.0.0.2' || s.family === 6 },
    { name: 'not-daddr', filters: [{ operator: 'NotDAddr', values: ['127.0.0.0/31', '::1/128'] }], expect: (s) => s.daddr !== '127.0.0.1' && s.daddr !== '::1' },
    { name: 'sport', filters: [{ operator: 'SPort', values: [`${P}`] }], expect: (s) => s.sport === P },
    { name: 'not-sport', filters: [{ operator: 'NotSPort', values: [`${P}`, `${PRIV}`] }], expect: (s) => s.sport !== P && s.sport !== PRIV },
    { name: 'dport', filters: [{ operator: 'DPort', values: [`${Q}:${Q}`, `${PRIV}`] }], expect: (s) => s.dport === Q || s.dport === PRIV },
    { name: 'not-dport', filters: [{ operator: 'NotDPort', values: [`${Math.min(P, Q)}:${Math.max(P, Q)}`] }], expect: (s) => s.dport < Math.min(P, Q) || s.dport > Math.max(P, Q) },
    { name: 'sport-priv', filters: [{ operator: 'SPortPriv', values: [] }], expect: (s) => s.sport < 1024 },
    { name: 'not-sport-priv', filters: [{ operator: 'NotSPortPriv', values: [] }], expect: (s) => s.sport >= 1024 },
    { name: 'dport-priv', filters: [{ operator: 'DPortPriv', values: [] }], expect: (s) => s.dport < 1024 },
    { name: 'not-dport-priv', filters: [{ operator: 'NotDPortPriv', values: [] }], expect: (s) => s.dport >= 1024 },
    { name: 'protocol', filters: [{ operator: 'Protocol', values: ['IPPROTO_TCP'] }], expect: () => true },
    { name: 'protocol-udp', filters: [{ operator: 'Protocol', values: ['IPPROTO_UDP', '132'] }], expect: () => false },
    { name: 'family6', filters: [{ operator: 'Family', values: ['AF_INET6'] }], expect: (s) => s.family === 6 },
    { name: 'family4', filters: [{ operator: 'Family', values: ['2'] }], expect: (s) => s.family === 4 },
    // The tracepoint fires before the new state is stored: a client leaves SYN_SENT, a server's child SYN_RECV.
    { name: 'state', filters: [{ operator: 'State', values: ['TCP_SYN_SENT'] }], expect: (s) => s.client },
  ];
  loadAll(t, p, cases.map((c) => ({
    policyName: `sock-${c.name}`, hookIndex: 0, kind: 'tracepoint', target: { subsystem: 'sock', event: 'inet_sock_set_state' }, syscall: false,
    args: [{ index: 4, type: 'sock' }, { index: 6, type: 'int', label: 'newstate' }],
    selectors: c.filters.length ? [selector({ matchArgs: c.filters.map((f) => ({ index: 4, ...f })) })] : [],
  })));

  const { clients, accepted } = await connectAll(lab);
  const socks = [...clients.map((s) => ({ ...s, client: true })), ...accepted.map((s) => ({ ...s, client: false }))];
  t.equal(socks.length, 10);
  const ours = new Map(socks.map((s) => [key(s), s]));
  // Each socket's move to TCP_ESTABLISHED (newstate 1), whose tuple is complete.
  const established = (name: string): Set<string> => new Set(eventsOf(p, name)
    .filter((ev) => argOf(ev, 1)?.int_arg === 1).map((ev) => key(argOf(ev, 0)!.sock_arg as Tuple & { family: string }))
    .filter((k) => ours.has(k)));
  for (let i = 0; i < 200 && established('sock-all').size < socks.length; i++) await sleep(50);
  await sleep(500);

  for (const s of socks) {
    const ev = eventsOf(p, 'sock-all').find((e) => argOf(e, 1)?.int_arg === 1 && key(argOf(e, 0)!.sock_arg as Tuple & { family: string }) === key(s));
    const sock = ev && argOf(ev, 0)!.sock_arg!;
    t.ok(sock, `an event for ${key(s)}`);
    if (!sock) continue;
    t.match(sock, {
      family: s.family === 4 ? 'AF_INET' : 'AF_INET6', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP',
      saddr: s.saddr, daddr: s.daddr, sport: s.sport, dport: s.dport, cookie: /^\d+$/, state: s.client ? 'TCP_SYN_SENT' : 'TCP_SYN_RECV',
    }, `the 5-tuple of ${s.client ? 'client' : 'server'} ${key(s)}`);
    t.same(argOf(ev, 1), { int_arg: 1, label: 'newstate' });
  }
  for (const c of cases) {
    const want = socks.filter(c.expect).map(key).sort();
    t.same([...established(`sock-${c.name}`)].sort(), want, `${c.name}: ${JSON.stringify(c.filters)}`);
    if (c.name !== 'all' && c.name !== 'protocol' && c.name !== 'protocol-udp') t.ok(want.length > 0 && want.length < socks.length, `${c.name} matches some sockets, not all`);
  }
});

t.test('sockaddr args on connect(2) (user memory): the address, and SAddr, SPort, SPortPriv, Family in the kernel', { skip }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const lab = await loopback(t);
  const { P, PRIV } = lab;
  const cases: Case[] = [
    { name: 'all', filters: [], expect: () => true },
    { name: 'saddr', filters: [{ operator: 'SAddr', values: ['127.0.0.2', '::1/128'] }], expect: (s) => s.daddr === '127.0.0.2' || s.daddr === '::1' },
    { name: 'not-saddr', filters: [{ operator: 'NotSAddr', values: ['127.0.0.0/31'] }], expect: (s) => s.daddr !== '127.0.0.1' },
    { name: 'sport', filters: [{ operator: 'SPort', values: [`${P}`] }], expect: (s) => s.dport === P },
    { name: 'not-sport', filters: [{ operator: 'NotSPort', values: [`${P}`] }], expect: (s) => s.dport !== P },
    { name: 'sport-priv', filters: [{ operator: 'SPortPriv', values: [] }], expect: (s) => s.dport === PRIV },
    { name: 'not-sport-priv', filters: [{ operator: 'NotSPortPriv', values: [] }], expect: (s) => s.dport !== PRIV },
    { name: 'family', filters: [{ operator: 'Family', values: ['AF_INET6'] }], expect: (s) => s.family === 6 },
  ];
  loadAll(t, p, cases.map((c) => syscallPlan('sys_connect', [{ index: 0, type: 'int', label: 'fd' }, { index: 1, type: 'sockaddr' }],
    c.filters.length ? [selector({ matchArgs: c.filters.map((f) => ({ index: 1, ...f })) })] : [], `connect-${c.name}`)));

  const { clients } = await connectAll(lab);
  const target = (s: { family: string; addr?: string; port?: number }): string => `${s.family === 'AF_INET' ? 4 : 6} ${s.addr} ${s.port}`;
  const ours = new Set(clients.map((c) => `${c.family} ${c.daddr} ${c.dport}`));
  const seen = (name: string): Set<string> => new Set(eventsOf(p, name)
    .filter((ev) => ev.process_kprobe?.process.pid === process.pid)
    .map((ev) => target((argOf(ev, 1)?.sockaddr_arg ?? { family: '' }) as { family: string })).filter((k) => ours.has(k)));
  for (let i = 0; i < 200 && seen('connect-all').size < clients.length; i++) await sleep(50);
  await sleep(500);

  for (const c of clients) {
    const ev = eventsOf(p, 'connect-all').find((e) => target((argOf(e, 1)?.sockaddr_arg ?? { family: '' }) as { family: string }) === `${c.family} ${c.daddr} ${c.dport}`);
    t.same(ev && argOf(ev, 1), { sockaddr_arg: { family: c.family === 4 ? 'AF_INET' : 'AF_INET6', addr: c.daddr, port: c.dport } }, `connect to ${c.daddr}:${c.dport}`);
    t.equal(ev?.process_kprobe?.function_name, '__x64_sys_connect');
  }
  for (const c of cases) {
    const want = clients.filter((s) => c.expect({ ...s, client: true })).map((s) => `${s.family} ${s.daddr} ${s.dport}`).sort();
    t.same([...seen(`connect-${c.name}`)].sort(), want, `${c.name}: ${JSON.stringify(c.filters)}`);
    if (c.name !== 'all') t.ok(want.length > 0 && want.length < clients.length, `${c.name} matches some connects, not all`);
  }
});

t.test('an AF_UNIX connect(2) gives sockaddrun_arg with its path, or @name for an abstract socket; Family AF_UNIX picks them in the kernel', { skip }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-unix-')));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'a-socket-with-a-long-name-to-read-past-the-tuple-of-the-inet-families.sock');
  const abstract = `vigil-abstract-${process.pid}-${Date.now()}`;
  const servers = [createServer().listen(path), createServer().listen(`\0${abstract}`)];
  t.teardown(() => servers.forEach((s) => s.close()));
  await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? r(0) : s.once('listening', r)))));
  loadAll(t, p, [syscallPlan('sys_connect', [{ index: 0, type: 'int', label: 'fd' }, { index: 1, type: 'sockaddr' }],
    [selector({ matchArgs: [{ index: 1, operator: 'Family', values: ['AF_UNIX'] }] })], 'connect-unix')]);
  for (const to of [path, `\0${abstract}`]) {
    await new Promise<void>((resolve, reject) => {
      const c = createConnection(to, () => (c.end(), resolve()));
      c.once('error', reject);
    });
  }
  const ours = (): KprobeArgument[] => eventsOf(p, 'connect-unix').filter((ev) => ev.process_kprobe?.process.pid === process.pid).map((ev) => argOf(ev, 1)!);
  for (let i = 0; i < 200 && ours().length < 2; i++) await sleep(50);
  t.same(ours(), [{ sockaddrun_arg: { family: 'AF_UNIX', path } }, { sockaddrun_arg: { family: 'AF_UNIX', path: `@${abstract}` } }]);
  t.notOk(eventsOf(p, 'connect-unix').some((ev) => argOf(ev, 1)?.sockaddr_arg), 'no AF_INET connect passes Family AF_UNIX');
});

t.test('skb args on net:net_dev_queue: the packet\'s tuple, and skb operators in the kernel', { skip }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const lab = await loopback(t);
  const { P, Q, PRIV } = lab;
  const ports = [`${P}`, `${Q}`, `${PRIV}`];
  // Every case keeps to this test's packets: to or from its servers' ports.
  const cases: { name: string; filters: Omit<ArgFilter, 'index'>[]; expect: (s: Tuple) => boolean }[] = [
    { name: 'to-servers', filters: [{ operator: 'DPort', values: ports }], expect: () => true },
    { name: 'from-p', filters: [{ operator: 'SPort', values: [`${P}`] }], expect: () => true },
    { name: 'v6', filters: [{ operator: 'DPort', values: ports }, { operator: 'SAddr', values: ['::1'] }], expect: (s) => s.family === 6 },
    { name: 'not-v4-lo', filters: [{ operator: 'DPort', values: ports }, { operator: 'NotDAddr', values: ['127.0.0.1'] }], expect: (s) => s.daddr !== '127.0.0.1' },
    { name: 'priv', filters: [{ operator: 'DPort', values: ports }, { operator: 'DPortPriv', values: [] }], expect: (s) => s.dport < 1024 },
    { name: 'tcp', filters: [{ operator: 'DPort', values: ports }, { operator: 'Protocol', values: ['IPPROTO_TCP'] }, { operator: 'Family', values: ['AF_INET', 'AF_INET6'] }], expect: () => true },
    { name: 'udp', filters: [{ operator: 'DPort', values: ports }, { operator: 'Protocol', values: ['IPPROTO_UDP'] }], expect: () => false },
  ];
  loadAll(t, p, cases.map((c) => ({
    policyName: `skb-${c.name}`, hookIndex: 0, kind: 'tracepoint', target: { subsystem: 'net', event: 'net_dev_queue' }, syscall: false,
    args: [{ index: 4, type: 'skb' }], selectors: [selector({ matchArgs: c.filters.map((f) => ({ index: 4, ...f })) })],
  })));
  const { clients } = await connectAll(lab);
  const packets = (name: string) => eventsOf(p, name).map((ev) => argOf(ev, 0)!.skb_arg!);
  for (let i = 0; i < 200 && new Set(packets('skb-to-servers').map((s) => key({ ...s, family: s.family! }))).size < clients.length; i++) await sleep(50);
  await sleep(500);

  for (const c of clients) {
    const skb = packets('skb-to-servers').find((s) => key({ ...s, family: s.family! }) === key(c));
    t.match(skb, {
      saddr: c.saddr, daddr: c.daddr, sport: c.sport, dport: c.dport, proto: 6, protocol: 'IPPROTO_TCP', family: c.family === 4 ? 'AF_INET' : 'AF_INET6', len: Number,
    }, `a packet of ${key(c)}`);
  }
  t.ok(packets('skb-from-p').length > 0 && packets('skb-from-p').every((s) => s.sport === P), 'SPort: the servers\' answers from P');
  for (const c of cases.slice(2)) {
    const got = packets(`skb-${c.name}`).map((s) => ({ family: (s.family === 'AF_INET' ? 4 : 6) as 4 | 6, saddr: s.saddr!, daddr: s.daddr!, sport: s.sport ?? 0, dport: s.dport ?? 0 }));
    const wantSome = clients.some(c.expect);
    t.equal(got.length > 0, wantSome, `${c.name}: ${wantSome ? 'some packets' : 'no packet'}`);
    t.ok(got.every((s) => ports.includes(`${s.dport}`) && c.expect(s)), `${c.name}: only the packets it names`);
  }
});
