// Event filters of `vigil events`: --process REGEX, --pid, --event-types
// (Tetragon's PROCESS_EXEC or process_exec), --policy-names, and the subject
// process's pod: --namespace, --pod REGEX, --container, or --host (none).
import { VigilError } from '../kernel/errors.js';
import { eventProcess, eventType, isFullProcess, EVENT_TYPES, type EventType, type TetragonEvent } from './tetragon.js';

export interface EventFilter {
  process?: RegExp;
  pids?: number[];
  types?: EventType[];
  /** The pod's namespace, exactly. */
  namespace?: string;
  /** The pod's name. */
  pod?: RegExp;
  /** The container's name, exactly. */
  container?: string;
  /** Policy events of these policies only. */
  policyNames?: string[];
  /** Processes in no pod only. */
  host?: boolean;
}

export function parseEventTypes(list: string): EventType[] {
  // Tetragon's enum names (PROCESS_EXEC) are the JSON keys in capitals.
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  return names.map((name) => {
    const t = name === name.toUpperCase() ? name.toLowerCase() : name;
    if (!(EVENT_TYPES as readonly string[]).includes(t)) {
      throw new VigilError('VIGIL_USAGE', `unknown event type "${name}" (known: ${EVENT_TYPES.join(', ')}, or the same in capitals)`);
    }
    return t as EventType;
  });
}

export function matches(f: EventFilter, ev: TetragonEvent): boolean {
  const type = eventType(ev);
  if (f.types && (!type || !f.types.includes(type))) return false;
  const p = eventProcess(ev);
  if (f.pids && (!p || !f.pids.includes(p.pid))) return false;
  if (f.process && (!isFullProcess(p) || !f.process.test(p.binary))) return false;
  if (f.policyNames) {
    const name = policyName(ev);
    if (name === undefined || !f.policyNames.includes(name)) return false;
  }
  if (f.host && isFullProcess(p) && p.pod) return false;
  if (f.namespace !== undefined || f.pod || f.container !== undefined) {
    const pod = isFullProcess(p) ? p.pod : undefined;
    if (!pod) return false;
    if (f.namespace !== undefined && pod.namespace !== f.namespace) return false;
    if (f.pod && !f.pod.test(pod.name)) return false;
    if (f.container !== undefined && pod.container?.name !== f.container) return false;
  }
  return true;
}

const policyName = (ev: TetragonEvent): string | undefined =>
  (ev.process_kprobe ?? ev.process_tracepoint ?? ev.process_uprobe ?? ev.process_lsm)?.policy_name;
