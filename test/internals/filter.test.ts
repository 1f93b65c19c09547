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

t.test("Tetragon's event type names, in capitals, are the same types", async (t) => {
  t.same(parseEventTypes('PROCESS_EXEC, process_exit,PROCESS_LSM'), ['process_exec', 'process_exit', 'process_lsm']);
  t.throws(() => parseEventTypes('Process_Exec'), /unknown event type "Process_Exec"/, 'mixed case is neither');
});

t.test('policy names: policy events of the named policies only; --host: processes in no pod', async (t) => {
  const policyEv = (policy_name: string): TetragonEvent =>
    ({ process_kprobe: { process: { pid: 1, binary: '/bin/cat' }, function_name: 'f', args: [], policy_name }, node_name: 'n', time: 't' }) as unknown as TetragonEvent;
  t.ok(matches({ policyNames: ['a', 'b'] }, policyEv('b')));
  t.notOk(matches({ policyNames: ['a'] }, policyEv('b')));
  t.notOk(matches({ policyNames: ['a'] }, ev('process_exec', 1, '/bin/cat')), 'an exec belongs to no policy');
  t.ok(matches({ host: true }, ev('process_exec', 1, '/bin/cat')));
  const inPod = { process_exec: { process: { pid: 1, binary: '/bin/sh', pod: { namespace: 'a', name: 'b' } } }, node_name: 'n', time: 't' } as unknown as TetragonEvent;
  t.notOk(matches({ host: true }, inPod));
});

t.test('an unknown event type is an error that lists the known ones', async (t) => {
  t.throws(() => parseEventTypes('process_exec,process_exe'), /unknown event type "process_exe" \(known: process_exec, process_exit, process_kprobe, process_tracepoint, process_uprobe, process_lsm, vigil_lost, rate_limit_info, or the same in capitals\)/);
});

t.test('pod filters: namespace and container exactly, pod name by regex; a process in no pod never matches', async (t) => {
  const inPod = (namespace: string, name: string, container?: string): TetragonEvent => ({
    process_exec: { process: { pid: 1, binary: '/bin/sh', pod: { namespace, name, container: container ? { id: 'containerd://x', name: container } : undefined } } },
    node_name: 'n', time: 't',
  }) as unknown as TetragonEvent;
  const f = { namespace: 'shop', pod: /^web-/, container: 'main' };
  t.ok(matches(f, inPod('shop', 'web-688c6cd6f7-mwvlk', 'main')));
  t.notOk(matches(f, inPod('shop-2', 'web-688c6cd6f7-mwvlk', 'main')), 'the namespace is matched exactly');
  t.notOk(matches(f, inPod('shop', 'api-1', 'main')));
  t.notOk(matches(f, inPod('shop', 'web-1', 'sidecar')));
  t.notOk(matches(f, inPod('shop', 'web-1')), 'the sandbox has no container name');
  t.notOk(matches({ namespace: 'shop' }, ev('process_exec', 1, '/bin/sh')), 'a host process');
  t.ok(matches({ pod: /web/ }, inPod('any', 'web-1')));
});
