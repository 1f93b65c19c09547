// Network deny without BPF LSM: cgroup connect/sendmsg programs on the
// cgroup v2 root refuse denied loopback destinations with EPERM, for this
// process and for a child in another cgroup, count each denial per rule,
// and stop once detached. All traffic stays on loopback.
import t from 'tap';
import net, { type AddressInfo } from 'node:net';
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroup2Root } from '../kernel/cgroup.js';
import { ConnectDenySensor } from '../agent/sensors/connect-deny.js';
import { compileRules, connectRules, type ConnectRule } from '../policies/compiler/connect.js';
import { startPolicyAgent } from './lib/policy-agent.js';
import { parseCidr } from '../kernel/net/values.js';
import { lacking } from './lib/kernel.js';

const run = promisify(execFile);

const listenTcp = (host: string, port = 0): Promise<net.Server> => new Promise((resolve, reject) => {
  const s = net.createServer((c) => c.destroy());
  s.once('error', reject);
  s.listen({ host, port, exclusive: true }, () => resolve(s));
});
const bindUdp = (type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> => new Promise((resolve, reject) => {
  const s = dgram.createSocket(type);
  s.once('error', reject);
  s.bind(0, host, () => resolve(s));
});
const portOf = (s: net.Server | dgram.Socket): number => (s.address() as AddressInfo).port;

/** 'connected', or the error code of connect(). */
const tcpConnect = (host: string, port: number): Promise<string> => new Promise((resolve) => {
  const c = net.connect({ host, port });
  c.setTimeout(10_000, () => { c.destroy(); resolve('timeout'); });
  c.once('connect', () => { c.destroy(); resolve('connected'); });
  c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
});

/** 'sent', or the error code of sendmsg(). */
const udpSend = (type: 'udp4' | 'udp6', host: string, port: number): Promise<string> => new Promise((resolve) => {
  const s = dgram.createSocket(type);
  s.send('vigil', port, host, (e) => { s.close(); resolve(e ? (e as NodeJS.ErrnoException).code ?? e.message : 'sent'); });
});

/** connect() from a child process that first moves into cgroup: its code, or 'connected'. */
async function childConnect(host: string, port: number, cgroup: string): Promise<string> {
  const script = `require('net').connect(${port}, ${JSON.stringify(host)})
    .on('connect', function () { console.log('connected'); this.destroy(); })
    .on('error', (e) => console.log(e.code))`;
  const sh = 'echo $$ > "$1/cgroup.procs" && exec "$2" -e "$3"';
  return (await run('/bin/sh', ['-c', sh, 'sh', cgroup, process.execPath, script])).stdout.trim();
}

t.test('rules are validated, and the message names the field', async (t) => {
  const bad = (rules: unknown[], where: RegExp) =>
    t.throws(() => compileRules(rules as ConnectRule[]), { code: 'VIGIL_POLICY_INVALID', message: where });
  bad([{ id: 1, cidrs: ['10.0.0.0/33'] }], /^rules\[0\]\.cidrs\[0\]: .*prefix length must be 0\.\.32/);
  bad([{ id: 1, cidrs: ['10.0.0.256'] }], /^rules\[0\]\.cidrs\[0\]: "10\.0\.0\.256" is not/);
  bad([{ id: 1, cidrs: ['fe80::1%eth0'] }], /^rules\[0\]\.cidrs\[0\]/);
  bad([{ id: 1, cidrs: [] }, { id: 1, cidrs: [] }], /^rules\[1\]\.id: 1 is also the id of rules\[0\]/);
  bad([{ id: 1, cidrs: [], ports: [[90, 80]] }], /^rules\[0\]\.ports\[0\]: \[90,80\] is not a range/);
  bad([{ id: 1, cidrs: [], ports: [[1, 65536]] }], /^rules\[0\]\.ports\[0\]/);
  bad([{ id: 1, cidrs: ['::1'], notPorts: true }], /^rules\[0\]\.notPorts: needs ports/);
  bad([{ id: 1, cidrs: [], notCidrs: true }], /^rules\[0\]\.notCidrs: needs cidrs/);
  bad([{ id: 1, cidrs: [], protocol: 'sctp' }], /^rules\[0\]\.protocol/);
  bad(Array.from({ length: 65 }, (_, id) => ({ id, cidrs: [] })), /^rules: 65 rules, at most 64/);

  t.same(parseCidr('10.1.2.3/8'), { family: 4, len: 8, addr: Buffer.from([10, 0, 0, 0]) }, 'host bits are cleared');
  t.equal(parseCidr('::ffff:1.2.3.4').addr.toString('hex'), '00000000000000000000ffff01020304');
  t.same(parseCidr('2001:db8::/32'), { family: 6, len: 32, addr: Buffer.from('20010db8' + '0'.repeat(24), 'hex') });
  t.equal(parseCidr('fe80::').addr.toString('hex'), 'fe80' + '0'.repeat(28));

  const plan = compileRules([{ id: 7, cidrs: ['10.0.0.0/8'] }, { id: 9, cidrs: ['10.1.0.0/16', '10.0.0.0/8'] }]);
  const rulesOf = (len: number) => plan.v4.find((e) => e.key.readUInt32LE(0) === len)?.value.readBigUInt64LE(0);
  t.equal(rulesOf(8), 0b11n, '10/8 holds both rules');
  t.equal(rulesOf(16), 0b11n, '10.1/16 also carries the rules of 10/8, which contains it');
});

t.test('cgroup connect/sendmsg programs deny matching destinations with EPERM, until closed', { skip: await lacking(['cgroup_hooks']) }, async (t) => {
  const servers: net.Server[] = [];
  const udp: dgram.Socket[] = [];
  const tcp = async (host: string, port = 0) => { const s = await listenTcp(host, port); servers.push(s); return portOf(s); };
  const sensor = new ConnectDenySensor();
  const child = join(cgroup2Root(), `vigil-test-${process.pid}`);
  mkdirSync(child);
  t.teardown(() => {
    sensor.close();
    for (const s of servers) s.close();
    for (const s of udp) s.close();
    rmdirSync(child);
  });

  const pa = await tcp('127.0.0.1');
  const pb = await tcp('127.0.0.2');
  const pc = await tcp('127.0.0.3');
  const p6 = await tcp('::1');
  const pd = await tcp('127.0.0.1');
  await tcp('127.0.0.4', pd);
  const pe = await tcp('127.0.0.5');
  const pf = await tcp('127.0.0.5');
  let pg = await tcp('127.0.0.2');
  while (Math.abs(pg - pb) <= 1) pg = await tcp('127.0.0.2');
  const u6 = await bindUdp('udp6', '::1');
  udp.push(u6);
  const used = [pa, pb, pc, p6, pd, pe, pf, pg];
  let unusedNearA = pa + 1;
  while (used.includes(unusedNearA)) unusedNearA++;

  for (const [host, port] of [['127.0.0.2', pb], ['127.0.0.2', pg], ['::1', p6], ['127.0.0.4', pd], ['127.0.0.5', pf]] as const) {
    t.equal(await tcpConnect(host, port), 'connected', `before load: ${host}:${port} is reachable`);
  }
  t.equal(await udpSend('udp4', '127.0.0.3', pc), 'sent', 'before load: UDP to 127.0.0.3 is sent');

  const root = cgroup2Root();
  sensor.load(compileRules([
    { id: 1, cidrs: ['127.0.0.2/32'], ports: [[pb - 1, Math.min(pb + 1, 65535)]], protocol: 'tcp' },
    { id: 2, cidrs: ['127.0.0.1'], ports: [[unusedNearA, unusedNearA]] },
    { id: 3, cidrs: ['::1/128'], ports: [[p6, p6]], protocol: 'tcp' },
    { id: 4, cidrs: ['127.0.0.3/32'], protocol: 'udp' },
    { id: 5, cidrs: ['::1'], ports: [[portOf(u6), portOf(u6)]], protocol: 'udp' },
    { id: 6, cidrs: ['127.0.0.1/32'], notCidrs: true, ports: [[pd, pd]], protocol: 'tcp' },
    { id: 7, cidrs: ['127.0.0.5'], ports: [[pe, pe]], notPorts: true, protocol: 'tcp' },
    { id: 8, cidrs: ['127.0.0.0/8'], ports: [[pg, pg]] },
  ]), root);
  t.same(sensor.attached().sort(), ['vigil_connect4', 'vigil_connect6', 'vigil_sendmsg4', 'vigil_sendmsg6']);
  if (process.env.VIGIL_CGROUP_ROOT) t.equal(root, process.env.VIGIL_CGROUP_ROOT, 'attached to the cgroup2 root');

  t.equal(await tcpConnect('127.0.0.2', pb), 'EPERM', 'TCP connect to 127.0.0.2 in the denied range fails with EPERM');
  t.equal(await childConnect('127.0.0.2', pb, child), 'EPERM', 'a child process in a child cgroup is denied too');
  t.equal(await tcpConnect('::ffff:127.0.0.2', pb), 'EPERM', 'the IPv4-mapped address from an IPv6 socket is denied');
  t.equal(await tcpConnect('127.0.0.1', pa), 'connected', '127.0.0.1 is still reachable (DPort rule does not cover it)');
  t.equal(await tcpConnect('::1', p6), 'EPERM', 'TCP connect to ::1 fails with EPERM');
  t.equal(await tcpConnect('127.0.0.3', pc), 'connected', 'a UDP-only rule leaves TCP allowed');
  t.equal(await udpSend('udp4', '127.0.0.3', pc), 'EPERM', 'UDP sendmsg to 127.0.0.3 fails with EPERM');
  t.equal(await udpSend('udp6', '::1', portOf(u6)), 'EPERM', 'UDP sendmsg to ::1 on the denied port fails with EPERM');
  t.equal(await udpSend('udp6', '::1', p6), 'sent', 'UDP to ::1 on another port is sent');
  t.equal(await tcpConnect('127.0.0.1', pd), 'connected', 'NotDAddr: the listed address is allowed');
  t.equal(await tcpConnect('127.0.0.4', pd), 'EPERM', 'NotDAddr: another address on that port is denied');
  t.equal(await tcpConnect('127.0.0.5', pe), 'connected', 'NotDPort: the listed port is allowed');
  t.equal(await tcpConnect('127.0.0.5', pf), 'EPERM', 'NotDPort: another port is denied');
  t.equal(await tcpConnect('127.0.0.2', pg), 'EPERM', 'a /8 rule applies under a longer /32 prefix of another rule');

  t.same([...sensor.counts()], [[1, 3], [2, 0], [3, 1], [4, 1], [5, 1], [6, 1], [7, 1], [8, 1]], 'each denial is counted once, against its rule');

  sensor.close();
  t.same(sensor.attached(), [], 'detached');
  t.equal(await tcpConnect('127.0.0.2', pb), 'connected', 'after close, 127.0.0.2 is reachable again');
  t.equal(await tcpConnect('::1', p6), 'connected', 'after close, ::1 is reachable again');
  t.equal(await udpSend('udp4', '127.0.0.3', pc), 'sent', 'after close, UDP to 127.0.0.3 is sent');
  t.equal(sensor.counts().get(1), 3, 'the counts outlive close()');
});

t.test('a tcp_connect deny stays TCP\'s: UDP to the same address is sent, and the rules say tcp', { skip: await lacking(['cgroup_hooks']) }, async (t) => {
  const rules = connectRules({
    call: 'tcp_connect', syscall: false, args: [{ index: 0, type: 'sock' }],
    selectors: [
      { matchArgs: [{ index: 0, operator: 'DAddr', values: ['127.0.0.6/32'] }], matchActions: [{ action: 'Override', argError: -1 }] },
      { matchArgs: [{ index: 0, operator: 'Protocol', values: ['IPPROTO_UDP'] }], matchActions: [{ action: 'Override', argError: -1 }] },
    ],
  }, 1);
  t.same(rules, [{ id: 1, cidrs: ['127.0.0.6/32'], selector: 0, notCidrs: false, protocol: 'tcp' }], 'TCP implied; a UDP selector on a TCP function matches nothing and is dropped');

  const dir = mkdtempSync(join(tmpdir(), 'vigil-tcp-deny-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, ['apiVersion: cilium.io/v1alpha1', 'kind: TracingPolicy', 'metadata: { name: tcp-deny }', 'spec:', '  kprobes:',
    '  - call: tcp_connect', '    syscall: false', '    args: [{ index: 0, type: sock }]', '    selectors:',
    '    - matchArgs: [{ index: 0, operator: DAddr, values: ["127.0.0.6/32"] }]', '      matchActions: [{ action: Override, argError: -1 }]', ''].join('\n'));
  const tcp = await listenTcp('127.0.0.6');
  const udp = await bindUdp('udp4', '127.0.0.6');
  t.teardown(() => { tcp.close(); udp.close(); });
  const p = await startPolicyAgent({ policies: [file] });
  try {
    t.match(p.agent.status(), { policies: [{ name: 'tcp-deny', state: 'loaded' }] });
    t.equal(await tcpConnect('127.0.0.6', portOf(tcp)), 'EPERM', 'TCP connect to the denied address fails');
    t.equal(await udpSend('udp4', '127.0.0.6', portOf(udp)), 'sent', 'UDP sendto the same address is sent');
  } finally {
    await p.stop();
  }
});
