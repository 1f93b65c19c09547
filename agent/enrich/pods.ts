// Pods on process objects: a process in a kubelet pod's container gets
// Tetragon's `pod` (its pid in the container's pid namespace included)
// once the pod index knows the container. The process object is replaced,
// never changed: exporters cache each one's JSON text.
import type { ProcessCache, ProcessNode } from '../process/cache.js';
import type { TetragonEvent, TetragonProcess, TetragonProcessStub } from '../../exporters/tetragon.js';
import { eventType } from '../../exporters/tetragon.js';
import type { PodIndex } from '../k8s/pod-index.js';
import { tetragonPod } from '../k8s/pod-record.js';

export class PodEnricher {
  constructor(private readonly index: PodIndex, private readonly mayWait: () => boolean) {}

  /**
   * Attaches the node's pod when it is known. True when the process should
   * wait for it: it runs in a kubelet pod's cgroup (the path names a pod
   * UID), no pod is known for its container yet, and the API may still
   * tell (it has not refused the agent).
   */
  attach(node: ProcessNode): boolean {
    const c = node.container;
    if (!c || node.json.pod) return false;
    const m = this.index.lookup(c);
    if (m) {
      node.json = { ...node.json, pod: tetragonPod(m.pod, m.containerId, node.nspid) };
      return false;
    }
    return c.podUid !== undefined && this.mayWait();
  }
}

/** The processes an event names: the subject, its parent, and with ancestors those. */
export function eventNodes(cache: ProcessCache, node: ProcessNode, withAncestors = false): ProcessNode[] {
  if (withAncestors) return [node, ...cache.ancestors(node)];
  const parent = cache.parentOf(node);
  return parent ? [node, parent] : [node];
}

/** Puts the nodes' current process objects (with the pods found since) into an event built before. */
export function refreshProcesses(ev: TetragonEvent, nodes: ProcessNode[]): void {
  const kind = eventType(ev);
  if (!kind || kind === 'vigil_lost') return;
  const body = ev[kind] as { process?: TetragonProcess | TetragonProcessStub; parent?: TetragonProcess; ancestors?: TetragonProcess[] };
  const fresh = <T extends TetragonProcess | TetragonProcessStub | undefined>(p: T): T => {
    if (!p || !('exec_id' in p) || p.pod) return p;
    const n = nodes.find((x) => x.execId === p.exec_id);
    if (!n?.json.pod) return p;
    // A policy event names the thread that hit the hook.
    return (p.tid === n.json.tid ? n.json : { ...n.json, tid: p.tid }) as T;
  };
  body.process = fresh(body.process);
  body.parent = fresh(body.parent);
  if (body.ancestors) body.ancestors = body.ancestors.map(fresh);
}
