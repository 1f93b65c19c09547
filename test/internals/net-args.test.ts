// Network args on both sides of the kernel: the encoder's network filters
// (policies/compiler/net-filter.ts) byte by byte, and the tuple the kernel
// writes (struct vigil_net_arg, at the offsets its comment gives) decoded
// into Tetragon's sock_arg, sockaddr_arg and skb_arg.
import t from 'tap';
import { encodeHook, intKey, type EncodeContext } from '../../policies/compiler/encode.js';
import type { HookPlan } from '../../policies/compiler/plan.js';
import { kprobeArgument } from '../../agent/enrich/policy-events.js';
import { readNetTuple, skbArg, sockaddrArg, sockArg } from '../../agent/enrich/net-args.js';

const choice = (c: Partial<EncodeContext['choice']>): EncodeContext['choice'] => ({ mechanism: 'kprobe', syscall: false, ...c });
const ctx: EncodeContext = { choice: choice({}) };
const one = Buffer.from([1]);

// The documented offsets: args at 16 + 8i; selector s at 80 + 232s; arg filter j at +16 + 16j.
const ARG = (i: number): number => 16 + 8 * i;
const AF = (s: number, j: number): number => 80 + 232 * s + 16 + 16 * j;

/** A vigil_net_lpm key written out: prefixlen, u16 id, kind, bytes. */
function netKey(id: number, kind: number, bytes: number[], bits: number): Buffer {
  const k = Buffer.alloc(24);
  k.writeUInt32LE(24 + bits, 0);
  k.writeUInt16LE(id, 4);
  k.writeUInt8(kind, 6);
  Buffer.from(bytes).copy(k, 7);
  return k;
}

const sockPlan: HookPlan = {
  policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: 'tcp_connect' }, syscall: false,
  args: [{ index: 0, type: 'sock' }],
  selectors: [{
    matchArgs: [
      { index: 0, operator: 'DAddr', values: ['10.0.0.0/8', 'fd00::1'] },
      { index: 0, operator: 'NotDPort', values: ['80', '1023:1025'] },
      { index: 0, operator: 'Protocol', values: ['IPPROTO_TCP', '17'] },
      { index: 0, operator: 'SPortPriv', values: [] },
      { index: 0, operator: 'State', values: ['TCP_SYN_SENT'] },
      { index: 0, operator: 'Family', values: ['AF_INET6'] },
    ],
    matchPIDs: [], matchBinaries: [], matchActions: [],
  }],
};

t.test('network filters: op bytes, ids, and their values in vigil_net_lpm and vigil_int_eq', async (t) => {
  const e = encodeHook(sockPlan, ctx);
  t.same([...e.config.subarray(ARG(0), ARG(0) + 4)], [10, 8, 0, 0], 'arg: kind 10 (sock), 8-byte pointer, kernel memory');
  const filter = (j: number): number[] => [e.config[AF(0, j)], e.config[AF(0, j) + 1], e.config.readUInt16LE(AF(0, j) + 2)];
  t.same(filter(0), [0, 22, 1], 'DAddr: op 22, id 1');
  t.same(filter(1), [0, 27, 2], 'NotDPort: op 27, id 2');
  t.same(filter(2), [0, 32, 3], 'Protocol: op 32, id 3');
  t.same(filter(3), [0, 28, 0], 'SPortPriv: op 28, no values');
  t.same(filter(4), [0, 34, 4], 'State: op 34, id 4');
  t.same(filter(5), [0, 33, 5], 'Family: op 33, id 5');
  t.same(e.net, [
    netKey(1, 4, [10, 0, 0, 0], 8),
    netKey(1, 6, [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128),
    netKey(2, 16, [0, 80], 16),
    netKey(2, 16, [0x03, 0xff], 16),
    netKey(2, 16, [0x04, 0x00], 15),
  ].map((key) => ({ key, value: one })));
  t.same(e.intEq, [intKey(3, 6n), intKey(3, 17n), intKey(4, 2n), intKey(5, 10n)].map((key) => ({ key, value: one })));
});

t.test('a sockaddr of a syscall is user memory; of a kernel function, kernel memory', async (t) => {
  const plan: HookPlan = { ...sockPlan, target: { function: 'sys_connect' }, syscall: true, args: [{ index: 1, type: 'sockaddr' }], selectors: [] };
  t.same([...encodeHook(plan, { ...ctx, choice: choice({ syscall: true }) }).config.subarray(ARG(0), ARG(0) + 4)], [12, 8, 2, 1]);
  const tp = { ...ctx, choice: choice({ mechanism: 'tracepoint', syscall: true }) };
  t.same([...encodeHook(plan, tp).config.subarray(ARG(0), ARG(0) + 4)], [12, 8, 2, 1], 'the syscall tracepoint too');
  const lsm: HookPlan = { ...plan, kind: 'lsm', target: { hook: 'socket_connect' }, syscall: false, args: [{ index: 0, type: 'socket' }, { index: 1, type: 'sockaddr' }] };
  const b = encodeHook(lsm, { ...ctx, choice: choice({ mechanism: 'lsm' }) }).config;
  t.same([...b.subarray(ARG(0), ARG(0) + 4), ...b.subarray(ARG(1), ARG(1) + 4)], [11, 8, 0, 0, 12, 8, 0, 1]);
  const skb: HookPlan = { ...sockPlan, kind: 'tracepoint', syscall: false, target: { subsystem: 'net', event: 'net_dev_queue' }, args: [{ index: 4, type: 'skb' }], selectors: [] };
  const fields = [0, 1, 2, 3].map((i) => ({ name: `common${i}`, offset: i, size: 1, signed: false, type: 'u8' }))
    .concat([{ name: 'skbaddr', offset: 8, size: 8, signed: false, type: 'void *' }]);
  const tb = encodeHook(skb, { ...ctx, choice: choice({ mechanism: 'tracepoint' }), fields }).config;
  t.same([...tb.subarray(ARG(0), ARG(0) + 6)], [13, 8, 4, 0, 8, 0], 'skb: a tracepoint field at offset 8');
});

t.test('a network filter that does not fit its arg is an error naming it', async (t) => {
  const bad = (type: 'sock' | 'sockaddr' | 'skb' | 'string', operator: string, values: string[]) => encodeHook({
    ...sockPlan, args: [{ index: 0, type }],
    selectors: [{ matchArgs: [{ index: 0, operator: operator as 'SAddr', values }], matchPIDs: [], matchBinaries: [], matchActions: [] }],
  }, ctx);
  t.throws(() => bad('sock', 'Equal', ['1']), { code: 'VIGIL_POLICY_INVALID', message: /Equal does not apply to a sock arg; it takes SAddr, NotSAddr/ });
  t.throws(() => bad('string', 'SAddr', ['1.2.3.4']), { message: /SAddr applies to sock, socket, sockaddr and skb args, and this arg is string/ });
  t.throws(() => bad('sockaddr', 'DAddr', ['1.2.3.4']), { message: /DAddr does not apply to a sockaddr arg; it takes SAddr, NotSAddr, SPort, NotSPort, SPortPriv, NotSPortPriv, Family$/ });
  t.throws(() => bad('skb', 'State', ['TCP_CLOSE']), { message: /State does not apply to a skb arg/ });
  t.throws(() => bad('sock', 'DAddr', ['10.0.0.0/33']), { message: /matchArgs\[0\]\.values\[0\]: "10\.0\.0\.0\/33" is not an IP address or CIDR/ });
  t.throws(() => bad('sock', 'DPort', ['80', '9:8']), { message: /matchArgs\[0\]\.values\[1\]: range 9:8 is empty/ });
  t.throws(() => bad('sock', 'Protocol', ['IPPROTO_TPC']), { message: /values\[0\]: unknown protocol "IPPROTO_TPC"/ });
  t.throws(() => bad('sock', 'DPortPriv', ['1']), { message: /DPortPriv takes no values/ });
  t.throws(() => bad('sock', 'SAddr', []), { message: /SAddr needs at least one value/ });
});

/** A tuple as the kernel writes it, at the offsets events.h gives. */
function tuple(f: { saddr?: number[]; daddr?: number[]; cookie?: bigint; mark?: number; priority?: number; hash?: number; len?: number; family: number; type?: number; protocol?: number; sport?: number; dport?: number; state?: number }): Buffer {
  const b = Buffer.alloc(72);
  Buffer.from(f.saddr ?? []).copy(b, 0);
  Buffer.from(f.daddr ?? []).copy(b, 16);
  b.writeBigUInt64LE(f.cookie ?? 0n, 32);
  b.writeUInt32LE(f.mark ?? 0, 40);
  b.writeUInt32LE(f.priority ?? 0, 44);
  b.writeUInt32LE(f.hash ?? 0, 48);
  b.writeUInt32LE(f.len ?? 0, 52);
  b.writeUInt16LE(f.family, 56);
  b.writeUInt16LE(f.type ?? 0, 58);
  b.writeUInt16LE(f.protocol ?? 0, 60);
  b.writeUInt16LE(f.sport ?? 0, 62);
  b.writeUInt16LE(f.dport ?? 0, 64);
  b.writeUInt8(f.state ?? 0, 66);
  return b;
}

const V6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

t.test('the kernel\'s tuple decodes to Tetragon\'s sock_arg, sockaddr_arg and skb_arg, zero fields left out', async (t) => {
  const sock4 = tuple({ saddr: [10, 0, 0, 1], daddr: [1, 1, 1, 1], cookie: 18446623937417084544n, family: 2, type: 1, protocol: 6, sport: 40000, dport: 443, state: 2 });
  t.same(sockArg(readNetTuple(sock4)!), {
    family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '10.0.0.1', daddr: '1.1.1.1', sport: 40000, dport: 443,
    cookie: '18446623937417084544', state: 'TCP_SYN_SENT',
  });
  t.same(Object.keys(sockArg(readNetTuple(sock4)!)), ['family', 'type', 'protocol', 'saddr', 'daddr', 'sport', 'dport', 'cookie', 'state'], 'KprobeSock\'s field order');
  const sock6 = tuple({ saddr: V6, daddr: [...Array(15).fill(0), 1], family: 10, type: 2, protocol: 17, mark: 7, priority: 6, sport: 53, dport: 0, state: 7 });
  t.same(sockArg(readNetTuple(sock6)!), {
    family: 'AF_INET6', type: 'SOCK_DGRAM', protocol: 'IPPROTO_UDP', mark: 7, priority: 6, saddr: '2001:db8::1', daddr: '::1', sport: 53, state: 'TCP_CLOSE',
  });
  t.same(sockaddrArg(readNetTuple(tuple({ saddr: [127, 0, 0, 1], family: 2, sport: 8080 }))!), { family: 'AF_INET', addr: '127.0.0.1', port: 8080 });
  t.same(sockaddrArg(readNetTuple(tuple({ saddr: V6, family: 10, sport: 22 }))!), { family: 'AF_INET6', addr: '2001:db8::1', port: 22 });
  t.same(sockaddrArg(readNetTuple(tuple({ family: 1 }))!), { family: 'AF_UNIX' }, 'no address for other families');
  const skb = tuple({ saddr: [127, 0, 0, 1], daddr: [127, 0, 0, 2], hash: 0xdeadbeef, len: 60, family: 2, protocol: 6, sport: 1234, dport: 80 });
  t.same(skbArg(readNetTuple(skb)!), {
    hash: 0xdeadbeef, len: 60, saddr: '127.0.0.1', daddr: '127.0.0.2', sport: 1234, dport: 80, proto: 6, protocol: 'IPPROTO_TCP', family: 'AF_INET',
  });
  t.equal(readNetTuple(Buffer.alloc(71)), undefined, 'a short tuple is not read');
});

t.test('policy events carry network args under their Tetragon keys, with labels', async (t) => {
  const sock = tuple({ saddr: [127, 0, 0, 1], daddr: [127, 0, 0, 1], family: 2, type: 1, protocol: 6, sport: 1, dport: 2, state: 1 });
  t.same(kprobeArgument({ index: 0, type: 'sock', label: 'sk' }, { bytes: sock, flags: 0 }), {
    sock_arg: { family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '127.0.0.1', daddr: '127.0.0.1', sport: 1, dport: 2, state: 'TCP_ESTABLISHED' },
    label: 'sk',
  });
  t.same(Object.keys(kprobeArgument({ index: 0, type: 'socket' }, { bytes: sock, flags: 0 })), ['sock_arg']);
  t.same(kprobeArgument({ index: 1, type: 'sockaddr' }, { bytes: tuple({ saddr: [10, 1, 2, 3], family: 2, sport: 53 }), flags: 0 }), { sockaddr_arg: { family: 'AF_INET', addr: '10.1.2.3', port: 53 } });
  t.same(kprobeArgument({ index: 0, type: 'skb' }, { bytes: Buffer.alloc(0), flags: 2 }), { skb_arg: {} }, 'an arg the kernel could not read');
});

t.test('InMap and InRange on integers: ranges as prefixes of the 64-bit value, signed ones with the sign bit flipped', async (t) => {
  const plan: HookPlan = {
    ...sockPlan, args: [{ index: 0, type: 'int' }, { index: 1, type: 'uint32' }],
    selectors: [{ matchArgs: [{ index: 0, operator: 'InMap', values: ['-1:1'] }, { index: 1, operator: 'NotInRange', values: ['4:7', '9'] }], matchPIDs: [], matchBinaries: [], matchActions: [] }],
  };
  const e = encodeHook(plan, ctx);
  const filter = (j: number): number[] => [e.config[AF(0, j)], e.config[AF(0, j) + 1], e.config.readUInt16LE(AF(0, j) + 2)];
  t.same(filter(0), [0, 10, 1], 'InMap: op 10 (IN_RANGE), id 1');
  t.same(filter(1), [1, 11, 2], 'NotInRange: op 11, id 2');
  const be = (v: bigint): number[] => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return [...b];
  };
  const flip = 1n << 63n;
  t.same(e.net, [
    netKey(1, 8, be(flip - 1n), 64), // -1
    netKey(1, 8, be(flip), 63), // 0 and 1
    netKey(2, 8, be(4n), 62), // 4..7
    netKey(2, 8, be(9n), 64),
  ].map((key) => ({ key, value: one })));
});
