// Event filters of `vigil events`: --process REGEX, --pid, --event-types,
// and the subject process's pod: --namespace, --pod REGEX, --container.
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
}

export function parseEventTypes(list: string): EventType[] {
  const types = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(t)) {
      throw new VigilError('VIGIL_USAGE', `unknown event type "${t}" (known: ${EVENT_TYPES.join(', ')})`);
    }
  }
  return types as EventType[];
}

export function matches(f: EventFilter, ev: TetragonEvent): boolean {
  const type = eventType(ev);
  if (f.types && (!type || !f.types.includes(type))) return false;
  const p = eventProcess(ev);
  if (f.pids && (!p || !f.pids.includes(p.pid))) return false;
  if (f.process && (!isFullProcess(p) || !f.process.test(p.binary))) return false;
  if (f.namespace !== undefined || f.pod || f.container !== undefined) {
    const pod = isFullProcess(p) ? p.pod : undefined;
    if (!pod) return false;
    if (f.namespace !== undefined && pod.namespace !== f.namespace) return false;
    if (f.pod && !f.pod.test(pod.name)) return false;
    if (f.container !== undefined && pod.container?.name !== f.container) return false;
  }
  return true;
}
