// What the agent keeps of a Pod object: the fields Tetragon's `pod` carries,
// and its containers by ID. Pods come from a list (dates parsed to Date) or
// a watch (dates as strings); both are read here.
import type { TetragonContainer, TetragonPod } from '../../exporters/tetragon.js';
import { workloadOf, type PodMeta } from './workload.js';

type Time = Date | string | undefined;

interface ContainerState {
  running?: { startedAt?: Time };
  terminated?: { startedAt?: Time; containerID?: string };
  waiting?: object;
}

export interface ContainerStatus {
  name: string;
  containerID?: string;
  image?: string;
  imageID?: string;
  state?: ContainerState;
  lastState?: ContainerState;
}

/** The fields of a v1 Pod the agent reads. */
export interface PodObject {
  metadata?: PodMeta & { namespace?: string; uid?: string; annotations?: Record<string, string>; resourceVersion?: string };
  status?: {
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    ephemeralContainerStatuses?: ContainerStatus[];
  };
}

/** A container of the pod, as Tetragon's Container without the process's pid. */
export type ContainerRecord = Omit<TetragonContainer, 'pid'>;

export interface PodRecord {
  uid: string;
  /** A static pod's own UID (its cgroup's), which its mirror in the API carries as an annotation. */
  configHash?: string;
  namespace: string;
  name: string;
  /** Tetragon's pod without container. */
  base: Omit<TetragonPod, 'container'>;
  /** By container ID (64 hex digits), every instance the statuses name, previous ones included. */
  containers: Map<string, ContainerRecord>;
  /** The runtime's prefix of its container IDs, e.g. containerd://. */
  runtimePrefix?: string;
  /**
   * Every container has started and none waits: a container of the pod's
   * cgroup that no status names is then its sandbox (the pause container).
   */
  settled: boolean;
  /** When the API said it was deleted (ms); it is kept a while for late events. */
  deletedAt?: number;
}

/** A timestamp as the API gives it, to seconds: 2026-01-02T03:04:05Z. */
function rfc3339(t: Time): string | undefined {
  if (t === undefined || t === null || t === '') return undefined;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace(/\.000Z$/, 'Z');
}

const ID = /^([a-z0-9-]+:\/\/)([0-9a-f]{64})$/;

function addContainer(rec: PodRecord, s: ContainerStatus, full: string | undefined, startedAt: Time): void {
  const m = full ? ID.exec(full) : null;
  if (!m) return;
  rec.runtimePrefix ??= m[1];
  const image = s.image || s.imageID ? { id: s.imageID || undefined, name: s.image || undefined } : undefined;
  rec.containers.set(m[2], { id: full!, name: s.name, image, start_time: rfc3339(startedAt) });
}

export function podRecord(pod: PodObject): PodRecord {
  const meta = pod.metadata ?? {};
  const work = workloadOf(meta);
  const labels = meta.labels && Object.keys(meta.labels).length ? { ...meta.labels } : undefined;
  const rec: PodRecord = {
    uid: meta.uid ?? '',
    configHash: meta.annotations?.['kubernetes.io/config.hash'],
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    base: { namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid, pod_labels: labels, workload: work.name, workload_kind: work.kind },
    containers: new Map(),
    settled: false,
  };
  const st = pod.status ?? {};
  const all = [...(st.initContainerStatuses ?? []), ...(st.containerStatuses ?? []), ...(st.ephemeralContainerStatuses ?? [])];
  for (const s of all) {
    // The previous instance first, so the current one wins a (never seen) clash.
    addContainer(rec, s, s.lastState?.terminated?.containerID, s.lastState?.terminated?.startedAt);
    addContainer(rec, s, s.containerID, s.state?.running?.startedAt ?? s.state?.terminated?.startedAt);
  }
  rec.settled = (st.containerStatuses?.length ?? 0) > 0 && all.every((s) => s.containerID && !s.state?.waiting);
  return rec;
}

/**
 * Tetragon's pod object for a process in one of the pod's containers, or
 * in its sandbox (container is then the ID alone); pid is the process's pid
 * in its pid namespace (0: unknown, left out).
 */
export function tetragonPod(rec: PodRecord, containerId: string, pid: number): TetragonPod {
  const known = rec.containers.get(containerId);
  const container: TetragonContainer = known ? { ...known } : { id: `${rec.runtimePrefix ?? ''}${containerId}` };
  if (pid > 0) container.pid = pid;
  const { namespace, name, uid, pod_labels, workload, workload_kind } = rec.base;
  return { namespace, name, uid, container, pod_labels, workload, workload_kind };
}
