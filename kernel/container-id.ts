// Which container, and which pod, a cgroup path names. Container runtimes
// name each container's cgroup after its ID, and the kubelet each pod's
// after its UID, in one of two drivers' spellings:
//
//   cgroupfs  /kubepods/besteffort/pod<uid>/<64 hex>             (containerd, Docker)
//             /kubepods/burstable/pod<uid>/crio-<64 hex>          (CRI-O)
//             /docker/<64 hex>
//   systemd   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<64 hex>.scope
//             …/crio-<64 hex>.scope, /system.slice/docker-<64 hex>.scope, /machine.slice/libpod-<64 hex>.scope
//
// The same names appear under every cgroup v1 controller and in the
// unified (v2) hierarchy. A container may make cgroups of its own below
// its cgroup: the deepest component that names a container wins.

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'podman';

export interface CgroupContainer {
  /** The container's full ID: 64 hex digits. */
  id: string;
  /** The runtime the cgroup's name gives; a cgroupfs name is the bare ID and gives none. */
  runtime?: ContainerRuntime;
  /** The pod's UID (with dashes) when the container sits in a kubelet pod cgroup. */
  podUid?: string;
}

const PREFIX_RUNTIME: Record<string, ContainerRuntime> = {
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  docker: 'docker',
  libpod: 'podman',
};

/** <prefix>-<id>[.scope], or a bare <id>; conmon's crio-conmon-<id>.scope is CRI-O's monitor, not the container. */
const CONTAINER = /^(?:(cri-containerd|crio|docker|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;
/** cgroupfs: pod<uid>; systemd: kubepods[-<qos>]-pod<uid with underscores>.slice. Static pods' UIDs are 32 hex digits. */
const POD = /^(?:kubepods(?:-[a-z]+)?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?$/;

/** A runc cgroupfs path given in systemd's slice:prefix:name form keeps the colons in the directory name. */
export function containerOf(component: string): CgroupContainer | undefined {
  const colon = component.split(':');
  const name = colon.length === 3 ? `${colon[1]}-${colon[2]}` : component;
  const m = CONTAINER.exec(name);
  if (!m) return undefined;
  const c: CgroupContainer = m[1] ? { id: m[2], runtime: PREFIX_RUNTIME[m[1]] } : { id: m[2] };
  const podUid = colon.length === 3 ? podUidOf(colon[0]) : undefined;
  return podUid ? { ...c, podUid } : c;
}

/** The pod UID (with dashes) a pod cgroup's own name gives: pod<uid> or kubepods-<qos>-pod<uid_>.slice. */
export function podUidOf(component: string): string | undefined {
  const m = POD.exec(component);
  return m ? m[1].replace(/_/g, '-') : undefined;
}

/** The container (and pod) a cgroup path names; undefined for a host cgroup. */
export function parseCgroupContainer(path: string): CgroupContainer | undefined {
  const parts = path.split('/').filter(Boolean);
  for (let i = parts.length - 1; i >= 0; i--) {
    const c = containerOf(parts[i]);
    if (!c) continue;
    if (c.podUid) return c;
    for (let j = i - 1; j >= 0; j--) {
      const podUid = podUidOf(parts[j]);
      if (podUid) return { ...c, podUid };
    }
    return c;
  }
  return undefined;
}

/** Tetragon's `docker` field: the container ID's first 31 characters (its BpfContainerIdLength). */
export const DOCKER_ID_LENGTH = 31;

export const dockerId = (id: string): string => id.slice(0, DOCKER_ID_LENGTH);
