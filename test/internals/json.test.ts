// The fast serializer writes exactly what JSON.stringify would.
import t from 'tap';
import { eventJson } from '../../exporters/json.js';
import type { TetragonEvent, TetragonProcess } from '../../exporters/tetragon.js';

const p = (pid: number): TetragonProcess => ({
  exec_id: `id${pid}`, pid, uid: 0, cwd: '/', binary: '/bin/x "q"', arguments: 'a\nb', flags: 'execve', start_time: 't', auid: 1,
  tid: pid, cap: { permitted: ['CAP_CHOWN'] }, process_credentials: { uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0 },
  parent_exec_id: undefined,
});

t.test('exec, exit and ancestors serialize as JSON.stringify does', async (t) => {
  const events: TetragonEvent[] = [
    { process_exec: { process: p(2), parent: p(1) }, node_name: 'n', time: 't1' },
    { process_exec: { process: p(3), parent: undefined, ancestors: [p(1), p(0)] }, node_name: 'n', time: 't2' },
    { process_exit: { process: p(2), parent: p(1), signal: 'SIGKILL', status: 0, time: 't3' }, node_name: 'n', time: 't3' },
  ];
  for (const ev of events) {
    t.equal(eventJson(ev), JSON.stringify(ev));
    t.equal(eventJson(ev), JSON.stringify(ev), 'and again from the cache');
  }
});

t.test('strings, numbers and node names outside the process objects serialize as JSON.stringify does', async (t) => {
  const kprobe = (path: string, node: string, time: string): TetragonEvent => ({
    process_kprobe: {
      process: p(4), parent: p(1), function_name: '__x64_sys_openat', args: [{ string_arg: path }, { int_arg: -1 }, { size_arg: '7' }],
      action: 'KPROBE_ACTION_POST', policy_name: 'q"uote', message: 'tab\there \u2028 \u00e9', tags: ['a', 'b\\c'],
    },
    node_name: node,
    time,
  });
  const events = [
    kprobe('/tmp/f', 'n', 't1'),
    kprobe('/tmp/\ud800lone', 'n2', 'tab\t'),
    kprobe('\u0000\u001f\u007f', 'n2', 't"'),
    { process_exit: { process: p(2), parent: p(1), status: -0, time: 't3' }, node_name: 'n"', time: 't3' },
    { process_exit: { process: p(2), parent: p(1), status: Number.NaN, time: 't3' }, node_name: 'n"', time: 't3' },
  ];
  for (const ev of events) t.equal(eventJson(ev), JSON.stringify(ev));
});
