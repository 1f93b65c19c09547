// Builds process_exec and process_exit events from kernel records and the process cache.
import type { ProcessCache, ProcessNode } from '../process/cache.js';
import type { ExecRecord, ExitRecord } from '../decode/records.js';
import { eventType, type EventType, type TetragonEvent } from '../../exporters/tetragon.js';
import { ktimeToRfc3339 } from '../process/clock.js';
import { signalName } from '../process/format.js';

export function execEvent(cache: ProcessCache, node: ProcessNode, time: string, withAncestors: boolean): TetragonEvent {
  const parent = cache.parentOf(node);
  return {
    process_exec: {
      // binary_properties belongs to this exec alone: the process object other events share stays without it.
      process: node.binaryProperties ? { ...node.json, binary_properties: node.binaryProperties } : node.json,
      parent: parent?.json,
      ...(withAncestors ? ancestorsField(cache, node) : {}),
    },
    node_name: cache.nodeName,
    time,
  };
}

/** The kinds of event that carry ancestors, by --enable-ancestors value ("base": exec and exit). */
export const ANCESTOR_KINDS: Record<string, EventType[]> = {
  base: ['process_exec', 'process_exit'],
  kprobe: ['process_kprobe'],
  tracepoint: ['process_tracepoint'],
  lsm: ['process_lsm'],
};

/** Adds the subject process's ancestors beyond its parent to an exit or policy event (exec events have them built in). */
export function addAncestors(cache: ProcessCache, ev: TetragonEvent, kinds: ReadonlySet<EventType>): TetragonEvent {
  const kind = eventType(ev);
  if (!kind || kind === 'process_exec' || !kinds.has(kind)) return ev;
  const body = ev[kind] as { process?: { exec_id?: string }; ancestors?: ProcessNode['json'][] };
  const node = body.process?.exec_id ? cache.byExecId(body.process.exec_id) : undefined;
  if (node) Object.assign(body, ancestorsField(cache, node));
  return ev;
}

/** Ancestors beyond the parent, grandparent first; left out when there are none, as protojson leaves an empty list. */
function ancestorsField(cache: ProcessCache, node: ProcessNode): { ancestors?: ProcessNode['json'][] } {
  const list = cache.ancestors(node).slice(1).map((a) => a.json);
  return list.length ? { ancestors: list } : {};
}

/** Call before the cache retires the node, while its parent is still cached. */
export function exitEvent(cache: ProcessCache, node: ProcessNode, rec: ExitRecord): TetragonEvent {
  const time = ktimeToRfc3339(rec.ktime);
  const sig = rec.code & 0x7f;
  // Tetragon's refcnt: what the process cache still holds it for once the process is gone, its cached children.
  const refcnt = node.refs - 1;
  return {
    process_exit: {
      process: refcnt > 0 ? { ...node.json, refcnt } : node.json,
      parent: cache.parentOf(node)?.json,
      ...(sig ? { signal: signalName(sig) } : {}),
      // protojson leaves a zero status out.
      status: ((rec.code >> 8) & 0xff) || undefined,
      time,
    },
    node_name: cache.nodeName,
    time,
  };
}

export const recordTime = (rec: ExecRecord | ExitRecord): string => ktimeToRfc3339(rec.ktime);
