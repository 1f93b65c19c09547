// The one-node Kubernetes test cluster (test/cluster/): brings it up once,
// and drives it with kubectl for tests that run Vigil against real pods.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const UP = join(REPO, 'test/cluster/up.sh');
export const RUN_DIR = process.env.VIGIL_CLUSTER_RUN ?? '/run/vigil-cluster';

export interface Cluster {
  runDir: string;
  adminKubeconfig: string;
  agentKubeconfig: string;
  kubectlPath: string;
  containerdSock: string;
  nodeName: string;
  busyboxImage: string;
  kubernetesVersion: string;
}

export interface KubectlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  input?: string;
  /** Defaults to the admin's kubeconfig. */
  kubeconfig?: string;
  timeoutMs?: number;
}

export interface PodContainer {
  name: string;
  /** As the kubelet reports it: containerd://<64 hex>. */
  containerID: string;
  /** The 64 hex digits alone. */
  id: string;
}

export interface RunningPod {
  namespace: string;
  name: string;
  uid: string;
  ip: string;
  containers: PodContainer[];
}

let cluster: Cluster | undefined;

/** Reads the exports of <rundir>/env, written by up.sh. */
function readEnv(runDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(runDir, 'env'), 'utf8').split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/**
 * Brings the cluster up with test/cluster/up.sh (which returns at once when it
 * is already up, and builds what is missing on a machine that never ran it),
 * once per process.
 */
export function ensureCluster(timeoutMs = Number(process.env.VIGIL_CLUSTER_UP_TIMEOUT ?? 1800) * 1000): Cluster {
  if (cluster) return cluster;
  const r = spawnSync('bash', [UP], {
    cwd: REPO,
    env: { ...process.env, VIGIL_CLUSTER_RUN: RUN_DIR },
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0 || !existsSync(join(RUN_DIR, 'env'))) {
    const why = r.error ? `${r.error.message}` : `exit ${r.status ?? r.signal}`;
    throw new Error(`test/cluster/up.sh failed (${why}):\n${r.stdout}${r.stderr}`);
  }
  const env = readEnv(RUN_DIR);
  cluster = {
    runDir: RUN_DIR,
    adminKubeconfig: env.VIGIL_ADMIN_KUBECONFIG,
    agentKubeconfig: env.VIGIL_AGENT_KUBECONFIG,
    kubectlPath: env.VIGIL_KUBECTL,
    containerdSock: env.VIGIL_CONTAINERD_SOCK,
    nodeName: env.VIGIL_NODE_NAME,
    busyboxImage: env.VIGIL_BUSYBOX_IMAGE,
    kubernetesVersion: env.VIGIL_KUBERNETES_VERSION,
  };
  return cluster;
}

function current(): Cluster {
  if (!cluster) throw new Error('ensureCluster() first');
  return cluster;
}

/** Runs kubectl (as the admin unless opts.kubeconfig says otherwise); never throws. */
export function kubectl(args: string[], opts: KubectlOptions = {}): KubectlResult {
  const c = current();
  const r = spawnSync(c.kubectlPath, ['--kubeconfig', opts.kubeconfig ?? c.adminKubeconfig, ...args], {
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '') };
}

/** kubectl that must succeed: returns its stdout, or throws with its stderr. */
export function kubectlOk(args: string[], opts: KubectlOptions = {}): string {
  const r = kubectl(args, opts);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Creates a namespace and waits for its default service account, which pods need. */
export async function createNamespace(ns: string, timeoutMs = 60_000): Promise<void> {
  kubectlOk(['create', 'namespace', ns]);
  const end = Date.now() + timeoutMs;
  while (kubectl(['-n', ns, 'get', 'serviceaccount', 'default']).status !== 0) {
    if (Date.now() > end) throw new Error(`namespace ${ns}: no default service account after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Deletes a namespace and everything in it; waits for it to go unless wait is false. */
export function deleteNamespace(ns: string, wait = true): void {
  kubectl(['delete', 'namespace', ns, '--ignore-not-found', `--wait=${wait}`], { timeoutMs: 180_000 });
}

/** A pod manifest running one busybox container with `command`. */
export function busyboxPod(namespace: string, name: string, command: string[] = ['sleep', '3600']): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: current().busyboxImage, imagePullPolicy: 'Never', command }],
    },
  };
}

/** Applies a pod manifest (an object or YAML/JSON text); returns its namespace and name. */
export function applyPod(manifest: object | string): { namespace: string; name: string } {
  const text = typeof manifest === 'string' ? manifest : JSON.stringify(manifest);
  const out = kubectlOk(['apply', '-o', 'jsonpath={.metadata.namespace}/{.metadata.name}', '-f', '-'], { input: text });
  const [namespace, name] = out.trim().split('/');
  return { namespace, name };
}

interface PodJson {
  metadata: { uid: string };
  status: {
    phase?: string;
    podIP?: string;
    containerStatuses?: { name: string; containerID?: string; state?: { running?: object; waiting?: { reason?: string; message?: string } } }[];
  };
}

/** Waits until every container of the pod runs; returns its UID, IP and container IDs. */
export async function waitPodRunning(namespace: string, name: string, timeoutMs = 120_000): Promise<RunningPod> {
  const end = Date.now() + timeoutMs;
  let last = 'not found';
  for (;;) {
    const r = kubectl(['-n', namespace, 'get', 'pod', name, '-o', 'json']);
    if (r.status === 0) {
      const pod = JSON.parse(r.stdout) as PodJson;
      const statuses = pod.status.containerStatuses ?? [];
      const running = statuses.length > 0 && statuses.every((s) => s.state?.running && s.containerID);
      if (pod.status.phase === 'Running' && running) {
        return {
          namespace,
          name,
          uid: pod.metadata.uid,
          ip: pod.status.podIP ?? '',
          containers: statuses.map((s) => ({ name: s.name, containerID: s.containerID!, id: s.containerID!.replace(/^\w+:\/\//, '') })),
        };
      }
      const waiting = statuses.map((s) => s.state?.waiting).find(Boolean);
      last = `phase ${pod.status.phase ?? '?'}${waiting ? `, ${waiting.reason}: ${waiting.message ?? ''}` : ''}`;
    } else {
      last = r.stderr.trim();
    }
    if (Date.now() > end) throw new Error(`pod ${namespace}/${name} not running after ${timeoutMs} ms (${last})`);
    await sleep(250);
  }
}
