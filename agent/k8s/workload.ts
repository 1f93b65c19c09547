// A pod's workload, from its controller owner reference alone (the agent
// reads pods, not their owners), by the heuristics Tetragon shares with
// Istio:
//   ReplicaSet <deployment>-<pod-template-hash>  -> Deployment <deployment>
//   Job <cronjob>-<8 to 10 digits>               -> CronJob <cronjob>
//   DaemonSet, StatefulSet, Job, …               -> that kind and name
//   no controller, or no generateName            -> Pod <pod name>
// (A static pod's mirror is owned by its Node but has no generateName: Pod.)

export interface OwnerReference {
  kind: string;
  name: string;
  controller?: boolean;
}

export interface PodMeta {
  name?: string;
  generateName?: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface Workload {
  name: string;
  kind: string;
}

const CRONJOB_JOB = /^(.+)-\d{8,10}$/;

export function workloadOf(meta: PodMeta): Workload {
  const pod: Workload = { name: meta.name ?? '', kind: 'Pod' };
  if (!meta.generateName) return pod;
  const ref = meta.ownerReferences?.find((r) => r.controller);
  if (!ref) return pod;
  const hash = meta.labels?.['pod-template-hash'];
  if (ref.kind === 'ReplicaSet' && hash && ref.name.endsWith(`-${hash}`)) {
    return { name: ref.name.slice(0, -(hash.length + 1)), kind: 'Deployment' };
  }
  if (ref.kind === 'Job') {
    const m = CRONJOB_JOB.exec(ref.name);
    if (m) return { name: m[1], kind: 'CronJob' };
  }
  return { name: ref.name || pod.name, kind: ref.kind };
}
