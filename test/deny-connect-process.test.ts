// A user denies connects the way Tetragon writes it (security_socket_connect
// with Protocol on the socket, Family, SAddr and SPort on the sockaddr)
// for one binary, one process, or processes outside the host's mount
// namespace, and Tetragon's "block others" example (Post one destination,
// Override the rest), on a kernel without BPF LSM: the cgroup connect
// programs judge the destination and then the process filters from the
// process map. Real node processes connect on loopback; the denied one
// gets EPERM and an Override event, every other process and destination
// connects. Walk-arounds tried: a symlink, a copy, an IPv4-mapped address,
// IPv6, UDP sendto and connect.
import t from 'tap';
import net, { type AddressInfo } from 'node:net';
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, chmodSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { lacking } from './lib/kernel.js';
import { startPolicyAgent, type PolicyAgent } from './lib/policy-agent.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const run = promisify(execFile);
const skip = await lacking(['cgroup_hooks', 'tracepoints', 'ring_buffer', 'bpf_loop']);

const listenTcp = (host: string): Promise<net.Server> => new Promise((resolve, reject) => {
  const s = net.createServer((c) => c.destroy());
  s.once('error', reject);
  s.listen({ host, port: 0, exclusive: true }, () => resolve(s));
});
const bindUdp = (type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> => new Promise((resolve, reject) => {
  const s = dgram.createSocket(type);
  s.once('error', reject);
  s.bind(0, host, () => resolve(s));
});
const portOf = (s: net.Server | dgram.Socket): number => (s.address() as AddressInfo).port;

/** In a child: TCP connect, UDP sendto, or UDP connect; prints 'connected', 'sent', or the error code. */
const CHILD = `const [how, host, port] = process.argv.slice(-3);
const done = (r) => { console.log(r); process.exit(0); };
if (how === 'tcp') require('net').connect(+port, host).on('connect', () => done('connected')).on('error', (e) => done(e.code));
else {
  const s = require('dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
  if (how === 'sendto') s.send('vigil', +port, host, (e) => done(e ? e.code : 'sent'));
  else s.connect(+port, host, (e) => done(e ? e.code : 'connected'));
}`;

/** What bin (a node) gets for one connect; prefix: a command it runs under (unshare). */
async function from(bin: string, how: 'tcp' | 'sendto' | 'udp-connect', host: string, port: number, prefix: string[] = []): Promise<string> {
  const argv = [...prefix, bin, '-e', CHILD, how, host, String(port)];
  return (await run(argv[0], argv.slice(1))).stdout.trim();
}

/** The same from this process, with no child. */
const here = (host: string, port: number): Promise<string> => new Promise((resolve) => {
  const c = net.connect({ host, port });
  c.once('connect', () => { c.destroy(); resolve('connected'); });
  c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
});

const OVERRIDE = [{ action: 'Override', argError: -1 }];
const ARGS = [{ index: 0, type: 'socket' }, { index: 1, type: 'sockaddr' }, { index: 2, type: 'int' }];

/** A security_socket_connect policy file in dir. */
function policyFile(dir: string, name: string, selectors: unknown[]): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({
    apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name },
    spec: { kprobes: [{ call: 'security_socket_connect', syscall: false, args: ARGS, selectors }] },
  }));
  return file;
}

let dir: string;
let denied: string;
let copy: string;
let link: string;
const closers: (() => void)[] = [];
t.before(() => {
  if (skip) return;
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-connect-proc-')));
  // Node copies of its own, so no other process runs the denied path.
  denied = join(dir, 'denied-node');
  copy = join(dir, 'copied-node');
  link = join(dir, 'link-node');
  for (const f of [denied, copy]) {
    copyFileSync(process.execPath, f);
    chmodSync(f, 0o755);
  }
  symlinkSync(denied, link);
});
t.teardown(() => {
  for (const c of closers) c();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function servers() {
  const tcp = await Promise.all(['127.0.0.9', '127.0.0.10', '::1', '127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'].map(listenTcp));
  const udp = await Promise.all([bindUdp('udp4', '127.0.0.9'), bindUdp('udp4', '127.0.0.9')]);
  closers.push(() => { for (const s of tcp) s.close(); for (const s of udp) s.close(); });
  return { tcp: tcp.map(portOf), udp: udp.map(portOf) };
}

t.test('Tetragon\'s security_socket_connect form denies one binary\'s connects, and nobody else\'s', { skip }, async (t) => {
  const { tcp: [p9, p10, p6], udp: [u1, u2] } = await servers();
  const bins = [{ operator: 'In', values: [denied] }];
  const file = policyFile(dir, 'connect-deny-binary', [
    {
      matchArgs: [
        { index: 0, operator: 'Protocol', values: ['IPPROTO_TCP'] },
        { index: 1, operator: 'Family', values: ['AF_INET'] },
        { index: 1, operator: 'SAddr', values: ['127.0.0.9/32'] },
      ],
      matchBinaries: bins, matchActions: OVERRIDE,
    },
    { matchArgs: [{ index: 1, operator: 'Family', values: ['AF_INET6'] }, { index: 1, operator: 'SAddr', values: ['::1'] }, { index: 1, operator: 'SPort', values: [String(p6)] }], matchBinaries: bins, matchActions: OVERRIDE },
    { matchArgs: [{ index: 0, operator: 'Protocol', values: ['IPPROTO_UDP'] }, { index: 1, operator: 'SAddr', values: ['127.0.0.9'] }, { index: 1, operator: 'SPort', values: [String(u2)] }], matchBinaries: bins, matchActions: OVERRIDE },
  ]);
  t.equal(await from(denied, 'tcp', '127.0.0.9', p9), 'connected', 'before load, the binary connects');

  const p: PolicyAgent = await startPolicyAgent({ policies: [file] });
  try {
    t.match(p.agent.status(), { policies: [{ name: 'connect-deny-binary', state: 'loaded' }] });
    t.equal(await from(denied, 'tcp', '127.0.0.9', p9), 'EPERM', 'the denied binary: TCP to 127.0.0.9 fails with EPERM');
    t.equal(await from(link, 'tcp', '127.0.0.9', p9), 'EPERM', 'run through a symlink, it is still the denied file');
    t.equal(await from(denied, 'tcp', '::ffff:127.0.0.9', p9), 'EPERM', 'the IPv4-mapped address from an IPv6 socket is denied too');
    t.equal(await from(denied, 'tcp', '::1', p6), 'EPERM', 'IPv6: TCP to ::1 on the denied port fails with EPERM');
    t.equal(await from(denied, 'sendto', '127.0.0.9', u2), 'EPERM', 'a UDP rule: sendto with the address fails with EPERM');
    t.equal(await from(denied, 'udp-connect', '127.0.0.9', u2), 'EPERM', 'a UDP rule: connect() on a UDP socket fails with EPERM');
    t.equal(await from(denied, 'sendto', '127.0.0.9', u1), 'sent', 'the TCP rule does not reach UDP to the same address');
    t.equal(await from(denied, 'tcp', '127.0.0.10', p10), 'connected', 'another address is reachable');
    t.equal(await from(copy, 'tcp', '127.0.0.9', p9), 'connected', 'a copy is another file: matchBinaries names paths, as in Tetragon');
    t.equal(await from(process.execPath, 'tcp', '127.0.0.9', p9), 'connected', 'another binary connects');
    t.equal(await here('127.0.0.9', p9), 'connected', 'so does the agent\'s own process');

    const ev = await p.waitFor((e) => e.process_kprobe?.policy_name === 'connect-deny-binary' && e.process_kprobe.args[0]?.sockaddr_arg?.port === p9, 'the deny event');
    t.match(ev.process_kprobe, {
      function_name: 'security_socket_connect', action: 'KPROBE_ACTION_OVERRIDE', process: { binary: denied },
      args: [{ sockaddr_arg: { family: 'AF_INET', addr: '127.0.0.9', port: p9 } }],
    }, 'the denial is the policy\'s Override event, with the executed file and the destination');
    const denials = p.events().filter((e) => e.process_kprobe?.policy_name === 'connect-deny-binary');
    t.notOk(denials.some((e) => (e.process_kprobe!.process as { binary?: string }).binary !== denied), 'no event names another binary');
  } finally {
    await p.stop();
  }
  t.equal(await from(denied, 'tcp', '127.0.0.9', p9), 'connected', 'after the agent stops, the binary connects again');
});

t.test('matchPIDs and matchNamespaces narrow a connect deny to the processes they name', { skip }, async (t) => {
  const { tcp: [, , , p11, p12] } = await servers();
  const file = policyFile(dir, 'connect-deny-process', [
    { matchArgs: [{ index: 1, operator: 'SAddr', values: ['127.0.0.11'] }], matchPIDs: [{ operator: 'In', values: [process.pid], followForks: false }], matchActions: OVERRIDE },
    { matchArgs: [{ index: 1, operator: 'SAddr', values: ['127.0.0.12'] }, { index: 1, operator: 'SPort', values: [String(p12)] }], matchNamespaces: [{ namespace: 'Mnt', operator: 'NotIn', values: ['host_ns'] }], matchActions: OVERRIDE },
  ]);
  const p: PolicyAgent = await startPolicyAgent({ policies: [file] });
  try {
    t.match(p.agent.status(), { policies: [{ name: 'connect-deny-process', state: 'loaded' }] });
    t.equal(await here('127.0.0.11', p11), 'EPERM', 'matchPIDs: this process is denied');
    t.equal(await from(process.execPath, 'tcp', '127.0.0.11', p11), 'connected', 'matchPIDs without followForks: its child connects');
    t.equal(await from(process.execPath, 'tcp', '127.0.0.12', p12), 'connected', 'matchNamespaces: a process in the host\'s mount namespace connects');
    t.equal(await from(process.execPath, 'tcp', '127.0.0.12', p12, ['unshare', '-m']), 'EPERM', 'one in a mount namespace of its own is denied');
    t.equal(await here('127.0.0.12', p12), 'connected', 'and the host process is not');
  } finally {
    await p.stop();
  }
});

t.test('Tetragon\'s "block others" example: a Post selector first allows one destination, the Override after it denies the rest', { skip }, async (t) => {
  const { tcp: [p9, , p6, , , p13] } = await servers();
  const tcpInet = [{ index: 0, operator: 'Protocol', values: ['IPPROTO_TCP'] }, { index: 1, operator: 'Family', values: ['AF_INET', 'AF_INET6'] }];
  const bins = [{ operator: 'In', values: [denied] }];
  const file = policyFile(dir, 'connect-block-others', [
    { matchArgs: [...tcpInet, { index: 1, operator: 'SAddr', values: ['127.0.0.13'] }, { index: 1, operator: 'SPort', values: [String(p13)] }], matchBinaries: bins, matchActions: [{ action: 'Post' }] },
    { matchArgs: tcpInet, matchBinaries: bins, matchActions: [{ action: 'Override', argError: -1 }] },
  ]);
  const p: PolicyAgent = await startPolicyAgent({ policies: [file] });
  try {
    t.match(p.agent.status(), { policies: [{ name: 'connect-block-others', state: 'loaded' }] });
    t.equal(await from(denied, 'tcp', '127.0.0.13', p13), 'connected', 'the allowed destination connects');
    t.equal(await from(denied, 'tcp', '127.0.0.9', p9), 'EPERM', 'any other is denied');
    t.equal(await from(denied, 'tcp', '::1', p6), 'EPERM', 'over IPv6 too');
    t.equal(await from(denied, 'sendto', '127.0.0.9', p9), 'sent', 'UDP is not in the policy');
    t.equal(await from(copy, 'tcp', '127.0.0.9', p9), 'connected', 'another binary connects');
    const kprobe = (port: number) => (e: TetragonEvent) => e.process_kprobe?.policy_name === 'connect-block-others' && e.process_kprobe.args[0]?.sockaddr_arg?.port === port;
    t.match((await p.waitFor(kprobe(p13), 'the Post event')).process_kprobe, { action: 'KPROBE_ACTION_POST', args: [{ sockaddr_arg: { addr: '127.0.0.13', port: p13 } }] }, 'the allowed connect is posted');
    t.match((await p.waitFor(kprobe(p9), 'the Override event')).process_kprobe, { action: 'KPROBE_ACTION_OVERRIDE', args: [{ sockaddr_arg: { addr: '127.0.0.9', port: p9 } }] }, 'the denied one is an Override');
  } finally {
    await p.stop();
  }
});

t.test('matchBinaries followChildren: what the denied binary starts is denied too', { skip }, async (t) => {
  const { tcp: [, , , , , , p14] } = await servers();
  const file = policyFile(dir, 'connect-deny-children', [
    { matchArgs: [{ index: 1, operator: 'SAddr', values: ['127.0.0.14'] }], matchBinaries: [{ operator: 'In', values: [denied], followChildren: true }], matchActions: OVERRIDE },
  ]);
  // The parent runs another node (not denied by name), which connects and prints; the parent prints nothing.
  const spawnChild = `require('child_process').execFileSync(${JSON.stringify(process.execPath)}, ['-e', ${JSON.stringify(CHILD)}, ...process.argv.slice(1)], { stdio: 'inherit' })`;
  const viaParent = async (parent: string): Promise<string> =>
    (await run(parent, ['-e', spawnChild, 'tcp', '127.0.0.14', String(p14)])).stdout.trim();
  const p: PolicyAgent = await startPolicyAgent({ policies: [file] });
  try {
    t.match(p.agent.status(), { policies: [{ name: 'connect-deny-children', state: 'loaded' }] });
    t.equal(await from(process.execPath, 'tcp', '127.0.0.14', p14), 'connected', 'node on its own connects');
    t.equal(await viaParent(denied), 'EPERM', 'node started by the denied binary is denied');
    t.equal(await viaParent(copy), 'connected', 'node started by another binary connects');
  } finally {
    await p.stop();
  }
});
