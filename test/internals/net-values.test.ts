// The shared network value parsers (policies/net/values.ts) and names
// (policies/net/names.ts): CIDRs, ports and ranges, the LPM prefixes a
// port range becomes, and addresses printed as Tetragon prints them.
import t from 'tap';
import { formatIp, parseCidr, parsePortRange, portPrefixes } from '../../kernel/net/values.js';
import { familyName, namedNumber, protocolName, PROTOCOL_NUMBERS, tcpStateName } from '../../kernel/net/names.js';

t.test('CIDRs: IPv4, IPv6, bare addresses; host bits cleared; bad ones name the value', async (t) => {
  t.same(parseCidr('10.1.2.3/8'), { family: 4, len: 8, addr: Buffer.from([10, 0, 0, 0]) });
  t.same(parseCidr('127.0.0.1'), { family: 4, len: 32, addr: Buffer.from([127, 0, 0, 1]) });
  t.same(parseCidr('::1'), { family: 6, len: 128, addr: Buffer.from(`${'0'.repeat(31)}1`, 'hex') });
  t.equal(parseCidr('::ffff:1.2.3.4/128').addr.toString('hex'), '00000000000000000000ffff01020304');
  t.same(parseCidr('fd00::/8'), { family: 6, len: 8, addr: Buffer.from(`fd${'0'.repeat(30)}`, 'hex') });
  t.throws(() => parseCidr('10.0.0.0/33'), { message: '"10.0.0.0/33" is not an IP address or CIDR: the prefix length must be 0..32' });
  t.throws(() => parseCidr('::/129'), { message: /prefix length must be 0\.\.128/ });
  t.throws(() => parseCidr('10.0.0.256'), { message: '"10.0.0.256" is not an IP address or CIDR' });
  t.throws(() => parseCidr('fe80::1%eth0'), { message: /not an IP address/ });
  t.throws(() => parseCidr('1.2.3.4/8/8'), { message: /not an IP address/ });
});

t.test('ports and ranges', async (t) => {
  t.same(parsePortRange('443'), [443, 443]);
  t.same(parsePortRange('8000:8999'), [8000, 8999]);
  t.same(parsePortRange('0:65535'), [0, 65535]);
  t.throws(() => parsePortRange('65536'), { message: '"65536" is not a port (0-65535)' });
  t.throws(() => parsePortRange('-1'), { message: '"-1" is not a port (0-65535)' });
  t.throws(() => parsePortRange('9000:8000'), { message: 'range 9000:8000 is empty: 9000 > 8000' });
  t.throws(() => parsePortRange('1:2:3'), { message: '"1:2:3" is not a port or a range a:b' });
  t.throws(() => parsePortRange('http'), { message: '"http" is not a port (0-65535)' });
});

t.test('a port range is the fewest prefixes covering exactly it', async (t) => {
  t.same(portPrefixes([80, 80]), [[80, 16]]);
  t.same(portPrefixes([0, 65535]), [[0, 0]]);
  t.same(portPrefixes([0, 1023]), [[0, 6]]);
  t.same(portPrefixes([1023, 1025]), [[1023, 16], [1024, 15]]);
  t.same(portPrefixes([8000, 8191]), [[8000, 10], [8064, 9]]);
  // Covered exactly, whatever the split: every port in, none outside.
  for (const [lo, hi] of [[8000, 8999], [1, 65534], [1023, 1025], [40000, 40001]] as [number, number][]) {
    const prefixes = portPrefixes([lo, hi]);
    const inside = (p: number): boolean => prefixes.some(([v, bits]) => (p >> (16 - bits)) === (v >> (16 - bits)) || bits === 0);
    let ok = true;
    for (let p = 0; p <= 65535; p++) if (inside(p) !== (p >= lo && p <= hi)) ok = false;
    t.ok(ok, `${lo}:${hi} in ${prefixes.length} prefixes`);
    t.ok(prefixes.length <= 30);
  }
});

t.test('addresses print as Tetragon prints them', async (t) => {
  t.equal(formatIp(Buffer.from([127, 0, 0, 1]), 4), '127.0.0.1');
  t.equal(formatIp(Buffer.from(`${'0'.repeat(31)}1`, 'hex'), 6), '::1');
  t.equal(formatIp(Buffer.from('20010db8000000000001000000000001', 'hex'), 6), '2001:db8::1:0:0:1');
  t.equal(formatIp(Buffer.from('00000000000000000000ffff7f000001', 'hex'), 6), '127.0.0.1', 'IPv4-mapped as IPv4');
  t.equal(formatIp(Buffer.from('fe800000000000000000000000000000', 'hex'), 6), 'fe80::');
  t.equal(formatIp(Buffer.from('00010002000300040005000600070008', 'hex'), 6), '1:2:3:4:5:6:7:8');
});

t.test('names and numbers of protocols, families and TCP states', async (t) => {
  t.equal(namedNumber('IPPROTO_TCP', PROTOCOL_NUMBERS), 6);
  t.equal(namedNumber('17', PROTOCOL_NUMBERS), 17);
  t.equal(namedNumber('0x84', PROTOCOL_NUMBERS), 132);
  t.equal(namedNumber('IPPROTO_TPC', PROTOCOL_NUMBERS), undefined);
  t.equal(protocolName(6), 'IPPROTO_TCP');
  t.equal(protocolName(200), '200');
  t.equal(familyName(1), 'AF_UNIX');
  t.equal(familyName(10), 'AF_INET6');
  t.equal(tcpStateName(2), 'TCP_SYN_SENT');
});
