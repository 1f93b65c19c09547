// `vigil events` filters.
import t from 'tap';
import { matches, parseEventTypes } from '../../exporters/filter.js';
import type { TetragonEvent } from '../../exporters/tetragon.js';

const ev = (kind: 'process_exec' | 'process_exit', pid: number, binary: string): TetragonEvent =>
  ({ [kind]: { process: { pid, binary } }, node_name: 'n', time: 't' }) as unknown as TetragonEvent;

t.test('process regex, pid and event types AND together', async (t) => {
  const f = { process: /curl$/, pids: [5], types: parseEventTypes('process_exec') };
  t.ok(matches(f, ev('process_exec', 5, '/usr/bin/curl')));
  t.notOk(matches(f, ev('process_exit', 5, '/usr/bin/curl')));
  t.notOk(matches(f, ev('process_exec', 6, '/usr/bin/curl')));
  t.notOk(matches(f, ev('process_exec', 5, '/usr/bin/wget')));
  t.ok(matches({}, ev('process_exit', 1, '/x')));
});

t.test('an unknown event type is an error that lists the known ones', async (t) => {
  t.throws(() => parseEventTypes('process_exec,process_exe'), /unknown event type "process_exe" \(known: process_exec, process_exit, process_kprobe, process_tracepoint, process_lsm, vigil_lost, rate_limit_info\)/);
});
