// A user runs `vigil run --kubeconfig` and a container starts before the
// API server has told the agent about its pod: its events wait and go out
// with the pod once the pod is known; a container whose pod never comes
// goes out without it after --pod-wait, counted; an API server that is not
// there at start delays nothing but those waits. The API server here is a
// scripted stand-in, the containers cgroups named as containerd under the
// kubelet's systemd driver names them.
// Kernel-independent: events waiting for pods from a scripted API server, in user space.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { startAgent, runCommand, VIGIL, type AgentHandle } from './lib/agent.js';
import { fakeApiServer, json, podList, watchLine, type FakeApiServer } from './lib/fake-apiserver.js';
import { cgroup2Root } from '../kernel/cgroup.js';
import { validateTetragonLine } from './lib/tetragon-schema.js';
import type { TetragonEvent } from '../exporters/tetragon.js';

const SH = realpathSync('/bin/sh');
const TRUE = realpathSync('/bin/true');
const ROOT = join(cgroup2Root(), `vigil-test-${process.pid}`);
const hex64 = (): string => randomBytes(32).toString('hex');

function podCgroup(uid: string, id: string): string {
  const slice = `kubepods-besteffort-pod${uid.replace(/-/g, '_')}.slice`;
  return join(ROOT, 'kubepods.slice', 'kubepods-besteffort.slice', slice, `cri-containerd-${id}.scope`);
}

const LATE = { uid: randomUUID(), id: hex64() };
const NEVER = { uid: randomUUID(), id: hex64() };
const cgroups = [podCgroup(LATE.uid, LATE.id), podCgroup(NEVER.uid, NEVER.id)];

const latePod = {
  metadata: {
    name: 'late-5d4f9b8c7-abcde', namespace: 'shop', uid: LATE.uid, generateName: 'late-5d4f9b8c7-', resourceVersion: '11',
    labels: { app: 'late', 'pod-template-hash': '5d4f9b8c7' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'late-5d4f9b8c7', controller: true }],
  },
  status: { containerStatuses: [{ name: 'app', containerID: `containerd://${LATE.id}`, image: 'vigil.test/busybox:1', imageID: 'sha256:1234',
    state: { running: { startedAt: '2026-01-02T03:04:05Z' } } }] },
};

let api: FakeApiServer;
let watch: ServerResponse | undefined;
let agent: AgentHandle;
const dir = mkdtempSync(join(tmpdir(), 'vigil-podwait-'));

/** Runs `true <marker>` in cgroup `cg`: the shell moves itself there, then execs. */
const runIn = (cg: string, marker: string) => runCommand(SH, ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${TRUE} ${marker}`]);
const execOf = (marker: string) => (e: TetragonEvent) => e.process_exec?.process.binary === TRUE && e.process_exec.process.arguments === marker;
const status = (a: AgentHandle) => JSON.parse(spawnSync(process.execPath, [VIGIL, 'status', '--json', '--socket', a.socket], { encoding: 'utf8' }).stdout);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.before(async () => {
  for (const cg of cgroups) mkdirSync(cg, { recursive: true });
  api = await fakeApiServer();
  api.handle((req, res) => {
    if (!req.watch) return json(res, podList([], '10'));
    res.writeHead(200, { 'content-type': 'application/json' });
    watch = res;
  });
  agent = await startAgent(['--kubeconfig', api.kubeconfig(dir), '--no-k8s-policies', '--node-name', 'node1', '--pod-wait', '4']);
});

t.teardown(async () => {
  await agent?.stop();
  await api?.close();
  for (const cg of cgroups) {
    for (let p = cg; p.startsWith(ROOT); p = join(p, '..')) {
      try {
        rmdirSync(p);
      } catch {
        break;
      }
    }
  }
});

t.test('an exec in a pod the agent does not know yet waits, and goes out with its pod once the API names it', async (t) => {
  for (let i = 0; i < 200 && !(status(agent).kubernetes.state === 'connected' && watch); i++) await sleep(50);
  t.equal(status(agent).kubernetes.state, 'connected');
  await runIn(cgroups[0], 'late-pod');
  await sleep(1000);
  t.notOk(agent.events().find(execOf('late-pod')), 'held: not exported without its pod');
  t.equal(status(agent).kubernetes.event_cache.waiting >= 1, true);
  watch!.write(watchLine('ADDED', latePod));
  const ev = await agent.waitFor(execOf('late-pod'), 'the held exec', 5000);
  const p = ev.process_exec!.process;
  t.match(p.pod, {
    namespace: 'shop', name: 'late-5d4f9b8c7-abcde', uid: LATE.uid,
    container: { id: `containerd://${LATE.id}`, name: 'app', image: { id: 'sha256:1234', name: 'vigil.test/busybox:1' }, start_time: '2026-01-02T03:04:05Z' },
    pod_labels: { app: 'late' }, workload: 'late', workload_kind: 'Deployment',
  });
  t.equal(p.docker, LATE.id.slice(0, 31));
  const exit = await agent.waitFor((e) => e.process_exit?.process.exec_id === p.exec_id, 'its exit');
  t.equal(exit.process_exit!.process.pod?.name, 'late-5d4f9b8c7-abcde', 'the exit, held behind it, too');
  t.match(status(agent).kubernetes.event_cache, { resolved: 2, timed_out: 0 });
});

t.test('a pod that never comes: out without it after --pod-wait, counted and logged', async (t) => {
  const t0 = Date.now();
  await runIn(cgroups[1], 'never-pod');
  const ev = await agent.waitFor(execOf('never-pod'), 'the exec, after the wait', 15_000);
  t.ok(Date.now() - t0 >= 3500, `waited ${Date.now() - t0} ms`);
  t.equal(ev.process_exec!.process.pod, undefined);
  t.equal(ev.process_exec!.process.docker, NEVER.id.slice(0, 31), 'docker still names the container');
  await agent.waitFor((e) => e.process_exit?.process.exec_id === ev.process_exec!.process.exec_id, 'its exit');
  t.ok(status(agent).kubernetes.event_cache.timed_out >= 2);
  for (let i = 0; i < 60 && !agent.stderr().includes('exported without their pod'); i++) await sleep(100);
  t.match(agent.stderr(), /kubernetes: events exported without their pod/);
});

t.test('every line passes Tetragon\'s event schema', async (t) => {
  const inContainers = (): string[] => agent.events().filter((e) => e.process_exec?.process.docker || e.process_exit?.process.docker).map((e) => JSON.stringify(e));
  for (let i = 0; i < 100 && inContainers().length < 4; i++) await sleep(100);
  const lines = inContainers();
  t.ok(lines.length >= 4, `${lines.length} exec and exit lines of the two containers' processes`);
  t.same(lines.flatMap((l) => validateTetragonLine(l).filter((e) => !e.includes('CAP_DAC_OVERRIDE'))), []);
});

t.test('no API server at start: the agent is ready anyway, retries, and events wait only --pod-wait', async (t) => {
  const gone = await fakeApiServer();
  const kubeconfig = gone.kubeconfig(mkdtempSync(join(tmpdir(), 'vigil-podwait-')));
  await gone.close();
  const a = await startAgent(['--kubeconfig', kubeconfig, '--no-k8s-policies', '--node-name', 'node1', '--pod-wait', '2']);
  t.teardown(() => a.stop());
  const s = status(a).kubernetes;
  t.match(s, { enabled: true, state: 'retrying' });
  t.match(s.last_error, /ECONNREFUSED/);
  await runIn(cgroups[0], 'no-api');
  const ev = await a.waitFor(execOf('no-api'), 'the exec, after the wait', 15_000);
  t.equal(ev.process_exec!.process.pod, undefined);
  const host = await runCommand(TRUE, ['host-no-api']);
  t.ok(await a.waitFor((e) => e.process_exec?.process.pid === host.pid, 'a host exec, at once', 3000));
  t.equal((a.stderr().match(/the Kubernetes API failed/g) ?? []).length, 1, 'the failure logged once');
});
