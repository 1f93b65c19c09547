// Tetragon spellings: arguments, flags, capabilities, signals, times.
import t from 'tap';
import { argumentString, flagString, capNames, signalName } from '../../agent/process/format.js';
import { nsToRfc3339 } from '../../agent/process/clock.js';

t.test('arguments: plain ones joined by spaces, others double-quoted', async (t) => {
  t.equal(argumentString(['x', 'a', 'b c', '"q"', '', 'tab\there']), 'a "b c" "\\"q\\"" "" "tab\\there"');
  t.equal(argumentString(['only-argv0']), '');
});

t.test('flags, capabilities and signals', async (t) => {
  t.equal(flagString(1 | 4 | 16), 'execve procFS truncArgs');
  t.same(capNames((1n << 0n) | (1n << 21n) | (1n << 40n)), ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE']);
  t.equal(signalName(9), 'SIGKILL');
  t.equal(signalName(15), 'SIGTERM');
});

t.test('times are RFC 3339 with nanoseconds', async (t) => {
  t.equal(nsToRfc3339(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
});
