// A user runs `vigil run` on a host with containers and no Kubernetes API:
// processes in a container's cgroup carry the container ID in `docker`
// (Tetragon's 31 characters), host processes carry none, and no event
// waits for a pod. The containers here are cgroups named the way the
// runtimes name them, with processes moved into them.
import t from 'tap';
import { mkdirSync, readFileSync, rmdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { startAgent, runCommand, type AgentHandle } from './lib/agent.js';
import { cgroup2Root } from '../kernel/cgroup.js';
import { validateTetragonLine } from './lib/tetragon-schema.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const SH = realpathSync('/bin/sh');
const SLEEP = realpathSync('/bin/sleep');
const TRUE = realpathSync('/bin/true');
const ROOT = join(cgroup2Root(), `vigil-test-${process.pid}`);
const hex64 = (): string => randomBytes(32).toString('hex');

// Docker's cgroupfs name, and containerd's under the kubelet's systemd driver (not below /kubepods, which a kubelet on this machine owns).
const DOCKER_ID = hex64();
const CRI_ID = hex64();
const POD_UID = randomUUID();
const DOCKER_CG = join(ROOT, 'docker', DOCKER_ID);
const CRI_CG = join(ROOT, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${POD_UID.replace(/-/g, '_')}.slice`,
  `cri-containerd-${CRI_ID}.scope`);

let agent: AgentHandle;
let early: ChildProcess;

/** Runs `cmd` in cgroup `cg`: the shell moves itself there, then execs. */
const inCgroup = (cg: string, cmd: string): string[] => ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${cmd}`];

t.before(async () => {
  for (const cg of [DOCKER_CG, CRI_CG]) mkdirSync(cg, { recursive: true });
  early = spawn(SH, inCgroup(DOCKER_CG, `${SLEEP} 300`), { stdio: 'ignore' });
  for (let i = 0; i < 100 && !readFileSync(join(DOCKER_CG, 'cgroup.procs'), 'utf8').trim(); i++) await new Promise((r) => setTimeout(r, 20));
  agent = await startAgent();
});

t.teardown(async () => {
  early.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  await agent?.stop();
  // Deepest first.
  for (const cg of [CRI_CG, DOCKER_CG]) {
    for (let p = cg; p.startsWith(ROOT); p = join(p, '..')) {
      try {
        rmdirSync(p);
      } catch {
        break;
      }
    }
  }
});

const execOf = (pid: number) => (ev: TetragonEvent) => ev.process_exec?.process.pid === pid;

t.test('a process in a container before the agent started: its procFS exec names the container', async (t) => {
  const p = (await agent.waitFor(execOf(early.pid!), 'procFS exec of the early sleep')).process_exec!.process;
  t.match(p.flags, /procFS/);
  t.equal(p.docker, DOCKER_ID.slice(0, 31));
  t.notOk(p.pod, 'no Kubernetes API: no pod');
});

t.test('an exec in a kubelet pod cgroup: docker from the exec record\'s cgroup id, no pod, no wait', async (t) => {
  const t0 = Date.now();
  const r = await runCommand(SH, inCgroup(CRI_CG, `${TRUE} container-identity`));
  t.equal(r.code, 0);
  const ev = await agent.waitFor((e) => e.process_exec?.process.binary === TRUE && e.process_exec.process.arguments === 'container-identity', 'exec in the pod cgroup');
  t.equal(ev.process_exec!.process.docker, CRI_ID.slice(0, 31));
  t.notOk(ev.process_exec!.process.pod);
  const exit = await agent.waitFor((e) => e.process_exit?.process.exec_id === ev.process_exec!.process.exec_id, 'its exit');
  t.equal(exit.process_exit!.process.docker, CRI_ID.slice(0, 31));
  t.ok(Date.now() - t0 < 10_000, 'exported at once: without Kubernetes nothing waits for a pod');
});

t.test('a fork in the container keeps the container; host processes carry none', async (t) => {
  const r = await runCommand(SH, inCgroup(CRI_CG, `${SH} -c '${TRUE} forked & wait'`));
  t.equal(r.code, 0);
  const forked = await agent.waitFor((e) => e.process_exec?.process.binary === TRUE && e.process_exec.process.arguments === 'forked', 'the forked true');
  t.equal(forked.process_exec!.process.docker, CRI_ID.slice(0, 31));
  t.equal(forked.process_exec!.parent?.docker, CRI_ID.slice(0, 31), 'its parent, in the container too');
  const host = await runCommand(TRUE, ['host-process']);
  const h = (await agent.waitFor(execOf(host.pid), 'host exec')).process_exec!;
  t.equal(h.process.docker, undefined);
  t.equal(h.process.pod, undefined);
  t.equal(h.parent?.docker, undefined, 'this test runs on the host');
});

t.test('every exported line passes Tetragon\'s event schema', async (t) => {
  await new Promise((r) => setTimeout(r, 300));
  const lines = readFileSync(agent.exportFile, 'utf8').split('\n').filter(Boolean)
    .filter((l) => l.includes(DOCKER_ID.slice(0, 31)) || l.includes(CRI_ID.slice(0, 31)));
  t.ok(lines.length >= 4, `${lines.length} container lines`);
  const bad = lines.flatMap((l) => validateTetragonLine(l).filter((e) => !e.includes('CAP_DAC_OVERRIDE')));
  t.same(bad, []);
});
