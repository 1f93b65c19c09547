// Tetragon's switches for what a process carries: --enable-process-ns adds
// namespaces, --enable-ancestors adds ancestors to the event kinds it names.
// Without them (exec-events.test.ts), neither is written.
import t from 'tap';
import { readlinkSync, realpathSync } from 'node:fs';
import { startAgent, runCommand, type AgentHandle } from './lib/agent.js';
import { validateTetragonLine } from './lib/tetragon-schema.js';

const SH = realpathSync('/bin/sh');
const TRUE = realpathSync('/bin/true');

let agent: AgentHandle;
t.before(async () => {
  agent = await startAgent(['--enable-process-ns', '--enable-ancestors', 'base']);
});
t.teardown(() => agent.stop());

const inum = (pid: string, ns: string): number => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${ns}`))![1]);

t.test('--enable-process-ns: every namespace by inode, the host ones marked is_host', async (t) => {
  const marker = `ns-${process.pid}-${Date.now()}`;
  const r = await runCommand(SH, ['-c', `${TRUE} ${marker}`]);
  const ev = await agent.waitFor((e) => e.process_exec?.process.binary === TRUE && e.process_exec.process.arguments === marker, 'true exec');
  const ns = ev.process_exec!.process.ns!;
  t.same(ns.pid, { inum: inum('self', 'pid'), is_host: true });
  t.same(ns.mnt, { inum: inum('self', 'mnt'), is_host: true });
  t.same(Object.keys(ns).sort(), ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'time_for_children', 'user', 'uts']);
  t.same(validateTetragonLine(JSON.stringify(ev), 'written'), []);
  t.ok(r.pid);
});

t.test('--enable-ancestors base: process_exec and process_exit carry the ancestors beyond the parent', async (t) => {
  const marker = `anc-${process.pid}-${Date.now()}`;
  const r = await runCommand(SH, ['-c', `${SH} -c "${TRUE} ${marker}"`]);
  const exec = (await agent.waitFor((e) => e.process_exec?.process.arguments === marker, 'true exec')).process_exec!;
  const exit = (await agent.waitFor((e) => e.process_exit?.process.exec_id === exec.process.exec_id, 'true exit')).process_exit!;
  t.equal(exec.ancestors?.[0].pid, r.pid, 'the outer sh, the grandparent, comes first');
  t.equal(exec.ancestors?.[1].pid, process.pid, 'then this test');
  t.same(exit.ancestors?.map((a) => a.exec_id), exec.ancestors?.map((a) => a.exec_id), 'the exit names the same ancestors');
});
