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
