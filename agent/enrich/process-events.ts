// Builds process_exec and process_exit events from kernel records and the process cache.
import type { ProcessCache, ProcessNode } from '../process/cache.js';
import type { ExecRecord, ExitRecord } from '../decode/records.js';
import type { TetragonEvent } from '../../exporters/tetragon.js';
import { ktimeToRfc3339 } from '../process/clock.js';
import { signalName } from '../process/format.js';

export function execEvent(cache: ProcessCache, node: ProcessNode, time: string, withAncestors: boolean): TetragonEvent {
  const parent = cache.parentOf(node);
  return {
    process_exec: {
      process: node.json,
      parent: parent?.json,
      ...(withAncestors ? { ancestors: cache.ancestors(node).slice(1).map((a) => a.json) } : {}),
    },
    node_name: cache.nodeName,
    time,
  };
}

/** Call before the cache retires the node, while its parent is still cached. */
export function exitEvent(cache: ProcessCache, node: ProcessNode, rec: ExitRecord): TetragonEvent {
  const time = ktimeToRfc3339(rec.ktime);
  const sig = rec.code & 0x7f;
  return {
    process_exit: {
      process: node.json,
      parent: cache.parentOf(node)?.json,
      ...(sig ? { signal: signalName(sig) } : {}),
      status: (rec.code >> 8) & 0xff,
      time,
    },
    node_name: cache.nodeName,
    time,
  };
}

export const recordTime = (rec: ExecRecord | ExitRecord): string => ktimeToRfc3339(rec.ktime);
