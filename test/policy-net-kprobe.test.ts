// A user hooks kernel functions with network args: tcp_connect's sock (on a
// kprobe, and on fentry where kprobes are missing), tcp_v4_rcv's and
// tcp_v6_rcv's skb, and the socket_connect LSM hook's socket and sockaddr
// (kernel memory). Loopback connections, IPv4 and IPv6, give events with
// the real 5-tuple, and the network operators pass only what they name.
import t from 'tap';
import { lacking } from './lib/kernel.js';
import { connectTuple, listen, type Tuple } from './lib/net.js';
import { selector, startPolicyAgent, suiteFeatures, type PolicyAgent } from './lib/policy-agent.js';
import type { ArgFilter, HookPlan } from '../policies/compiler/plan.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const kprobe = (name: string, fn: string, type: 'sock' | 'skb', filters: Omit<ArgFilter, 'index'>[]): HookPlan => ({
  policyName: name, hookIndex: 0, kind: 'kprobe', target: { function: fn }, syscall: false, args: [{ index: 0, type }],
  selectors: [selector({ matchArgs: filters.map((f) => ({ index: 0, ...f })) })],
});

function load(t: Tap, p: PolicyAgent, plan: HookPlan, mechanism: string): void {
  const state = p.agent.loadHook(plan);
  t.teardown(() => p.agent.unloadHook(state.hookId));
  t.equal(state.mechanism, mechanism, state.reason);
}

/** Servers on 127.0.0.1 and ::1, at ports P and Q each. */
async function servers(t: Tap): Promise<{ P: number; Q: number }> {
  const p6 = await listen('::1');
  const q6 = await listen('::1');
  const all = [p6, q6, await listen('127.0.0.1', p6.port), await listen('127.0.0.1', q6.port)];
  t.teardown(() => all.forEach((s) => s.server.close()));
  return { P: p6.port, Q: q6.port };
}

/** A connection to each of the four servers. */
async function connections({ P, Q }: { P: number; Q: number }): Promise<Tuple[]> {
  const conns: Tuple[] = [];
  for (const [host, port] of [['127.0.0.1', P], ['127.0.0.1', Q], ['::1', P], ['::1', Q]] as const) {
    const c = await connectTuple(host, port);
    if (typeof c === 'string') throw new Error(`connect to ${host}:${port}: ${c}`);
    conns.push(c);
  }
  return conns;
}

const ofPolicy = (p: PolicyAgent, name: string): TetragonEvent[] => p.events().filter((ev) => (ev.process_kprobe ?? ev.process_lsm)?.policy_name === name);

async function settle(p: PolicyAgent, name: string, n: number): Promise<void> {
  for (let i = 0; i < 400 && ofPolicy(p, name).length < n; i++) await sleep(50);
  await sleep(1000);
}

async function tcpConnect(t: Tap, mechanism: string, features = suiteFeatures()): Promise<void> {
  const p = await startPolicyAgent({ features });
  t.teardown(() => p.stop());
  const name = `tcp-connect-${mechanism}`;
  const ports = await servers(t);
  const { P } = ports;
  load(t, p, kprobe(name, 'tcp_connect', 'sock', [{ operator: 'DAddr', values: ['127.0.0.0/8', '::1'] }, { operator: 'NotDPort', values: ['1:1023'] }]), mechanism);
  load(t, p, kprobe(`${name}-p6`, 'tcp_connect', 'sock', [{ operator: 'DPort', values: [`${P}`] }, { operator: 'Family', values: ['AF_INET6'] }]), mechanism);
  load(t, p, kprobe(`${name}-none`, 'tcp_connect', 'sock', [{ operator: 'DPort', values: [`${P}`] }, { operator: 'NotDAddr', values: ['::/0', '127.0.0.1'] }]), mechanism);
  const conns = await connections(ports);
  await settle(p, name, conns.length);
  const socks = ofPolicy(p, name).map((ev) => ev.process_kprobe!.args[0].sock_arg!);
  for (const c of conns) {
    t.match(socks.find((s) => s.sport === c.sport && s.dport === c.dport), {
      family: c.family === 4 ? 'AF_INET' : 'AF_INET6', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP',
      saddr: c.saddr, daddr: c.daddr, sport: c.sport, dport: c.dport, state: 'TCP_SYN_SENT', cookie: /^\d+$/,
    }, `tcp_connect of ${c.saddr}:${c.sport} > ${c.daddr}:${c.dport}`);
  }
  const ours = (n: string) => ofPolicy(p, n).map((ev) => ev.process_kprobe!.args[0].sock_arg!).filter((s) => conns.some((c) => c.sport === s.sport));
  t.same(ours(`${name}-p6`).map((s) => [s.daddr, s.dport]), [['::1', P]], 'DPort and Family: only the IPv6 connect to P');
  t.same(ours(`${name}-none`), [], 'DPort P outside ::/0 and 127.0.0.1: none');
}

t.test('a kprobe on tcp_connect reports the 5-tuple, filtered by DAddr, DPort and Family', { skip: await lacking(['kprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  await tcpConnect(t, 'kprobe');
});

t.test('without kprobes, the same hook runs on fentry', { skip: await lacking(['fentry', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const features = (suiteFeatures() ?? []).map((f) => (f.feature === 'kprobes' ? { ...f, works: false, reason: 'hidden by the test' } : f));
  await tcpConnect(t, 'fentry', features);
});

t.test('kprobes on tcp_v4_rcv and tcp_v6_rcv read the skb\'s headers; SPort and SAddr pick the packets', { skip: await lacking(['kprobes', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const p6 = await listen('::1');
  const p4 = await listen('127.0.0.1', p6.port);
  const q4 = await listen('127.0.0.1');
  t.teardown(() => [p6, p4, q4].forEach((s) => s.server.close()));
  const P = p6.port;
  load(t, p, kprobe('rcv4', 'tcp_v4_rcv', 'skb', [{ operator: 'DPort', values: [`${P}`] }, { operator: 'SAddr', values: ['127.0.0.1'] }]), 'kprobe');
  load(t, p, kprobe('rcv6', 'tcp_v6_rcv', 'skb', [{ operator: 'DPort', values: [`${P}`] }, { operator: 'NotSAddr', values: ['127.0.0.0/8'] }]), 'kprobe');
  const c4 = await connectTuple('127.0.0.1', P) as Tuple;
  const c6 = await connectTuple('::1', P) as Tuple;
  const other = await connectTuple('127.0.0.1', q4.port) as Tuple;
  await settle(p, 'rcv6', 1);
  const skbs = (name: string) => ofPolicy(p, name).map((ev) => ev.process_kprobe!.args[0].skb_arg!);
  for (const [name, c] of [['rcv4', c4], ['rcv6', c6]] as const) {
    t.ok(skbs(name).length > 0, `${name}: packets to P`);
    t.ok(skbs(name).every((s) => s.dport === P), `${name}: only packets to P`);
    t.match(skbs(name)[0], { saddr: c.saddr, daddr: c.daddr, sport: c.sport, dport: P, proto: 6, protocol: 'IPPROTO_TCP', family: c.family === 4 ? 'AF_INET' : 'AF_INET6', len: Number });
  }
  t.notOk(skbs('rcv4').some((s) => s.sport === other.sport), 'no packet of the connection to Q');
});

t.test('an LSM hook (socket_connect) reads its socket and its kernel-memory sockaddr; SAddr picks the destination', { skip: await lacking(['bpf_lsm', 'ring_buffer', 'bpf_loop']) }, async (t) => {
  const p = await startPolicyAgent();
  t.teardown(() => p.stop());
  const state = p.agent.loadHook({
    policyName: 'lsm-connect', hookIndex: 0, kind: 'lsm', target: { hook: 'socket_connect' }, syscall: false,
    args: [{ index: 0, type: 'socket' }, { index: 1, type: 'sockaddr' }],
    selectors: [selector({ matchArgs: [{ index: 1, operator: 'SAddr', values: ['::1', '127.0.0.2'] }, { index: 0, operator: 'Protocol', values: ['IPPROTO_TCP'] }] })],
  });
  t.teardown(() => p.agent.unloadHook(state.hookId));
  t.equal(state.mechanism, 'lsm');
  const v6 = await listen('::1');
  const v4 = await listen('127.0.0.2');
  const no = await listen('127.0.0.1');
  t.teardown(() => [v6, v4, no].forEach((s) => s.server.close()));
  await connectTuple('127.0.0.1', no.port);
  await connectTuple('::1', v6.port);
  await connectTuple('127.0.0.2', v4.port);
  await settle(p, 'lsm-connect', 2);
  const evs = ofPolicy(p, 'lsm-connect').map((ev) => ev.process_lsm!);
  t.same(evs.map((e) => e.args[1]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
    { sockaddr_arg: { family: 'AF_INET', addr: '127.0.0.2', port: v4.port } },
    { sockaddr_arg: { family: 'AF_INET6', addr: '::1', port: v6.port } },
  ], 'the two destinations SAddr names, not 127.0.0.1');
  t.match(evs.find((e) => e.args[1].sockaddr_arg?.family === 'AF_INET6')?.args[0].sock_arg, { family: 'AF_INET6', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', state: 'TCP_CLOSE' });
});
