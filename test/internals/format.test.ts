// Tetragon spellings: arguments, flags, capabilities, signals, times.
import t from 'tap';
import { argumentString, flagString, capNames, signalName } from '../../agent/process/format.js';
import { afterBoot, nsToRfc3339 } from '../../agent/process/clock.js';
import { validUtf8 } from '../../agent/decode/utf8.js';

t.test("arguments are joined as Tetragon joins them: quotes around those with a space, nothing escaped", async (t) => {
  t.equal(argumentString(['x', 'a', 'b c', '"q"', '', 'tab\there']), 'a "b c" "q"  tab\there');
  t.equal(argumentString(['x', 'a b', 'c']), ' "a b" c', 'a quoted first argument keeps its leading space');
  t.equal(argumentString(['x', '', 'b']), 'b', 'an empty first argument leaves nothing');
  t.equal(argumentString(['x', 'a', '', '']), 'a', 'empty arguments at the end are dropped');
  t.equal(argumentString(['x', 'say "hi there"']), ' "say "hi there""');
  t.equal(argumentString(['only-argv0']), '');
});

t.test('invalid UTF-8: each run of bad bytes is one U+FFFD, as Go\'s strings.ToValidUTF8 writes it', async (t) => {
  t.equal(validUtf8(Buffer.from([0x61, 0xff, 0xfe, 0x62])), 'a\uFFFDb');
  t.equal(validUtf8(Buffer.from([0xc3])), '\uFFFD', 'a cut sequence');
  t.equal(validUtf8(Buffer.from([0xed, 0xa0, 0x80, 0x7a])), '\uFFFDz', 'a surrogate is not UTF-8');
  t.equal(validUtf8(Buffer.from('h\u00e9\u20ac\u{1F600}')), 'h\u00e9\u20ac\u{1F600}');
  t.equal(validUtf8(Buffer.from([0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x98])), '\uFFFDA\uFFFD');
});

t.test('flags, capabilities and signals', async (t) => {
  t.equal(flagString(1 | 4 | 16), 'execve procFS truncArgs');
  t.equal(flagString(1 | 2 | 128), 'execve rootcwd clone', "Tetragon's order");
  t.same(capNames((1n << 0n) | (1n << 21n) | (1n << 40n)), ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE']);
  t.same(capNames((1n << 1n) | (1n << 2n) | (1n << 50n)), ['DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 50], "Tetragon's enum names; a number past them");
  t.equal(signalName(9), 'SIGKILL');
  t.equal(signalName(15), 'SIGTERM');
});

t.test('times are RFC 3339 with nanoseconds', async (t) => {
  t.equal(nsToRfc3339(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
  t.equal(nsToRfc3339(1_700_000_000_123_456_000n), '2023-11-14T22:13:20.123456Z', 'as protojson: the fewest of 3, 6 or 9 digits');
  t.equal(nsToRfc3339(1_700_000_000_120_000_000n), '2023-11-14T22:13:20.120Z');
  t.equal(nsToRfc3339(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
});

t.test('a ktime after boot reads as the same wall time as in BigInt arithmetic', async (t) => {
  const boot = 1_799_999_999_999_999_999n;
  const [bootSecond, bootNs] = [Number(boot / 1_000_000_000n), Number(boot % 1_000_000_000n)];
  // Around whole seconds, where the division rounds and the nanoseconds carry, and at random.
  const ks = [0, 1, 999_999_999, 1_000_000_000, 1_000_000_001, 2 ** 53 - 1, 2 ** 53 - 1_000_000_000, 9_007_199_000_000_000];
  for (let i = 0; i < 2000; i++) ks.push(Math.floor(Math.random() * 2 ** 53));
  for (let i = 1; i < 200; i++) ks.push(i * 1_000_000_000 - 1, i * 45_000_000_000_000 - 1);
  const wrong = ks.filter((k) => afterBoot(bootSecond, bootNs, k) !== nsToRfc3339(boot + BigInt(k)));
  t.same(wrong, []);
});
