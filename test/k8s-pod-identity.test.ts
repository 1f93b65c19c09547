// A user runs `vigil run --kubeconfig … --node-name vigil-node` on a node of
// a real cluster: every event of a process in a pod carries Tetragon's
// `pod` (namespace, name, container, image, labels, workload), whether the
// pod started before the agent or after it, whether the process is the
// container's own command or a `kubectl exec`; host processes carry none;
// a pod deleted while its last process exits is still named on the exit.
import t from 'tap';
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import {
  applyPod, busyboxPod, createNamespace, deleteNamespace, ensureCluster, kubectl, kubectlOk, waitPodRunning,
  type Cluster, type RunningPod,
} from './lib/cluster.js';
import { runCommand, startAgent, VIGIL, type AgentHandle } from './lib/agent.js';
import { validateTetragonLine } from './lib/tetragon-schema.js';
import type { TetragonEvent, TetragonProcess } from '../exporters/tetragon.js';

const NS = `vigil-k8s-pods-${process.pid}`;
const BUSYBOX = '/bin/busybox';
let cluster: Cluster;
let web: RunningPod;
let agent: AgentHandle;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const procs = (e: TetragonEvent): TetragonProcess[] => {
  const body = e.process_exec ?? e.process_exit;
  return body ? [body.process, ...(body.parent ? [body.parent] : [])] : [];
};

async function statusJson(): Promise<Record<string, any>> {
  const r = await runCommand(process.execPath, [VIGIL, 'status', '--json', '--socket', agent.socket]);
  return JSON.parse(r.stdout);
}

t.before(async () => {
  cluster = ensureCluster();
  await createNamespace(NS);
  // A Deployment's pod, running before the agent starts.
  applyPod({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { namespace: NS, name: 'web' },
    spec: {
      replicas: 1, selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'front' } },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: cluster.busyboxImage, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
      },
    },
  });
  let name = '';
  for (let i = 0; i < 240 && !name; i++, await sleep(250)) {
    name = kubectl(['-n', NS, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}']).stdout.trim();
  }
  web = await waitPodRunning(NS, name);
  agent = await startAgent(['--kubeconfig', cluster.agentKubeconfig, '--node-name', cluster.nodeName]);
});

t.teardown(async () => {
  await agent?.stop();
  deleteNamespace(NS, false);
});

t.test('a pod created before the agent: its processes, found in /proc, carry the pod', async (t) => {
  const id = web.containers[0].id;
  const ev = await agent.waitFor((e) => e.process_exec?.process.docker === id.slice(0, 31) && e.process_exec.process.binary === BUSYBOX,
    'the procFS exec of the web container\'s sleep', 60_000);
  const p = ev.process_exec!.process;
  t.match(p.flags, /procFS/);
  t.equal(p.arguments, '3600');
  t.same(p.pod, {
    namespace: NS, name: web.name, uid: web.uid,
    container: {
      id: `containerd://${id}`, name: 'main', image: { id: p.pod?.container?.image?.id, name: cluster.busyboxImage },
      start_time: p.pod?.container?.start_time, pid: 1,
    },
    pod_labels: { app: 'web', tier: 'front', 'pod-template-hash': p.pod?.pod_labels?.['pod-template-hash'] },
    workload: 'web', workload_kind: 'Deployment',
  });
  t.match(p.pod?.container?.image?.id, /^sha256:[0-9a-f]{64}$/);
  t.match(p.pod?.container?.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.ok(web.name.startsWith(`web-${p.pod?.pod_labels?.['pod-template-hash']}-`), 'the ReplicaSet\'s hash');
  const pause = await agent.waitFor((e) => e.process_exec?.process.binary === '/pause' && e.process_exec.process.pod?.uid === web.uid,
    'the pod\'s sandbox (pause) from /proc', 30_000);
  t.match(pause.process_exec!.process.pod?.container, { id: /^containerd:\/\/[0-9a-f]{64}$/, pid: 1 });
  t.equal(pause.process_exec!.process.pod?.container?.name, undefined, 'the sandbox is no container of the spec');
});

t.test('kubectl exec: the process carries its pod, with its pid in the container; its children too', async (t) => {
  const marker = `exec-${process.pid}`;
  // busybox sh forks its applets without exec (the clone), and execs a background one.
  kubectlOk(['-n', NS, 'exec', web.name, '--', 'sh', '-c', `ls /proc/self >/dev/null; sleep 0 & wait; echo ${marker}`]);
  const sh = await agent.waitFor((e) => e.process_exec?.process.binary === BUSYBOX && !!e.process_exec.process.arguments?.includes(marker), 'the exec\'d sh');
  const p = sh.process_exec!.process;
  t.match(p.pod, { namespace: NS, name: web.name, container: { id: `containerd://${web.containers[0].id}`, name: 'main' }, workload: 'web', workload_kind: 'Deployment' });
  t.ok(p.pod!.container!.pid! > 1, `pid ${p.pod!.container!.pid} in the container, ${p.pid} on the host`);
  t.equal(p.docker, web.containers[0].id.slice(0, 31));
  const sleepExec = await agent.waitFor((e) => e.process_exec?.process.parent_exec_id === p.exec_id && e.process_exec.process.arguments === '0', 'its sleep');
  t.equal(sleepExec.process_exec!.process.pod?.name, web.name);
  t.ok(sleepExec.process_exec!.process.pod!.container!.pid! > 1);
  t.equal(sleepExec.process_exec!.parent?.pod?.name, web.name, 'the parent is in the pod too');
  const fork = await agent.waitFor((e) => e.process_exit?.process.parent_exec_id === p.exec_id && e.process_exit.process.flags.includes('clone'), 'the ls fork\'s exit');
  t.equal(fork.process_exit!.process.pod?.name, web.name, 'a fork is in its parent\'s pod');
  t.equal(fork.process_exit!.process.pod?.container?.pid, undefined, 'a fork\'s pid in the container is unknown: left out');
  const exit = await agent.waitFor((e) => e.process_exit?.process.exec_id === p.exec_id, 'the sh\'s exit');
  t.equal(exit.process_exit!.process.pod?.name, web.name);
});

t.test('a pod created after the agent: its container\'s own command carries the pod; a bare pod is its own workload', async (t) => {
  const marker = `late-${process.pid}`;
  applyPod(busyboxPod(NS, 'late', ['sh', '-c', `echo ${marker}; exec sleep 3600`]));
  const late = await waitPodRunning(NS, 'late');
  const ev = await agent.waitFor((e) => e.process_exec?.process.docker === late.containers[0].id.slice(0, 31) && !!e.process_exec.process.arguments?.includes(marker),
    'the container\'s sh', 60_000);
  t.match(ev.process_exec!.process.pod, {
    namespace: NS, name: 'late', uid: late.uid, container: { id: `containerd://${late.containers[0].id}`, name: 'main', pid: 1 },
    workload: 'late', workload_kind: 'Pod',
  });
  t.equal(ev.process_exec!.process.pod?.pod_labels, undefined, 'no labels: none exported');
  const s = await statusJson();
  t.match(s.kubernetes, { enabled: true, state: 'connected', node_name: cluster.nodeName });
  t.ok(s.kubernetes.pods >= 2);
});

t.test('a host process carries neither pod nor docker', async (t) => {
  const r = await runCommand(realpathSync('/bin/true'), ['host']);
  const ev = await agent.waitFor((e) => e.process_exec?.process.pid === r.pid, 'the host exec');
  t.equal(ev.process_exec!.process.pod, undefined);
  t.equal(ev.process_exec!.process.docker, undefined);
});

t.test('vigil events --namespace --pod --container: a live tail of one container', async (t) => {
  const tail = spawn(process.execPath, [VIGIL, 'events', '-o', 'json', '--socket', agent.socket, '--namespace', NS, '--pod', '^web-', '--container', 'main']);
  let out = '';
  tail.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  t.teardown(() => tail.kill());
  await sleep(1500);
  const marker = `tail-${process.pid}`;
  kubectlOk(['-n', NS, 'exec', web.name, '--', 'sh', '-c', `echo ${marker}`]);
  kubectlOk(['-n', NS, 'exec', 'late', '--', 'true']);
  await runCommand(realpathSync('/bin/true'), [marker]);
  for (let i = 0; i < 100 && !out.includes(marker); i++) await sleep(100);
  await sleep(500);
  const evs = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TetragonEvent);
  t.ok(evs.some((e) => e.process_exec?.process.arguments?.includes(marker)), 'the exec in web is there');
  t.ok(evs.length > 0 && evs.every((e) => {
    const pod = (e.process_exec ?? e.process_exit)?.process.pod;
    return pod?.namespace === NS && pod.name === web.name && pod.container?.name === 'main';
  }), 'and nothing else: not the late pod, not the host');
});

t.test('a pod deleted while its last process exits: the exit still names the pod', async (t) => {
  // sh ignores SIGTERM: the kubelet kills it (SIGKILL) after the pod object is gone.
  applyPod({ ...busyboxPod(NS, 'doomed', ['sh', '-c', "trap '' TERM; sleep 3600 & wait; sleep 3600"]) });
  const doomed = await waitPodRunning(NS, 'doomed');
  const id = doomed.containers[0].id.slice(0, 31);
  const sh = await agent.waitFor((e) => e.process_exec?.process.docker === id && e.process_exec.process.pod?.container?.pid === 1, 'the doomed container\'s sh', 60_000);
  kubectlOk(['-n', NS, 'delete', 'pod', 'doomed', '--grace-period=0', '--force'], { timeoutMs: 60_000 });
  let goneAt = 0;
  for (let i = 0; i < 240 && !goneAt; i++, await sleep(100)) {
    if (kubectl(['-n', NS, 'get', 'pod', 'doomed']).stderr.includes('NotFound')) goneAt = Date.now();
  }
  t.ok(goneAt, 'the pod object is gone from the API');
  const exit = await agent.waitFor((e) => e.process_exit?.process.exec_id === sh.process_exec!.process.exec_id, 'the sh\'s exit', 60_000);
  t.ok(new Date(exit.process_exit!.time).getTime() > goneAt - 1000, `the exit (${exit.process_exit!.time}) came after the deletion (${new Date(goneAt).toISOString()})`);
  t.match(exit.process_exit!.process.pod, { namespace: NS, name: 'doomed', container: { name: 'main', pid: 1 } });
  t.equal(exit.process_exit!.signal, 'SIGKILL');
  t.ok((await statusJson()).kubernetes.deleted_pods_kept >= 1, 'the deleted pod is kept a while');
});

t.test('every exported line of a pod\'s process passes Tetragon\'s event schema', async (t) => {
  const lines = agent.events().filter((e) => procs(e).some((p) => p.pod)).map((e) => JSON.stringify(e));
  t.ok(lines.length >= 10, `${lines.length} lines`);
  t.same(lines.flatMap((l) => validateTetragonLine(l).filter((e) => !e.includes('CAP_DAC_OVERRIDE'))), []);
});
