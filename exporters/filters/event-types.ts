// Tetragon's EventType enum, the names its filters' event_set takes, and
// which one an exported event is.
import { VigilError } from '../../kernel/errors.js';
import type { TetragonEvent } from '../tetragon.js';

/** Enum names and numbers of tetragon.EventType (events.proto). */
export const EVENT_TYPE_NUMBERS: Record<string, number> = {
  UNDEF: 0, PROCESS_EXEC: 1, PROCESS_EXIT: 5, PROCESS_KPROBE: 9, PROCESS_TRACEPOINT: 10, PROCESS_LOADER: 11,
  PROCESS_UPROBE: 12, PROCESS_THROTTLE: 27, PROCESS_LSM: 28, PROCESS_USDT: 29, TEST: 40000, RATE_LIMIT_INFO: 40001,
};

/** The EventType name of an event; UNDEF for Vigil's own vigil_lost. */
export function eventTypeName(ev: TetragonEvent): string {
  if (ev.process_exec) return 'PROCESS_EXEC';
  if (ev.process_exit) return 'PROCESS_EXIT';
  if (ev.process_kprobe) return 'PROCESS_KPROBE';
  if (ev.process_tracepoint) return 'PROCESS_TRACEPOINT';
  if (ev.process_uprobe) return 'PROCESS_UPROBE';
  if (ev.process_lsm) return 'PROCESS_LSM';
  if (ev.rate_limit_info) return 'RATE_LIMIT_INFO';
  return 'UNDEF';
}

/** An event_set: enum names (or their numbers, as protojson also reads them). */
export function eventSet(v: unknown, where: string): Set<string> {
  if (!Array.isArray(v)) throw new VigilError('VIGIL_USAGE', `${where}: expected a list of event types, got ${JSON.stringify(v)}`);
  const byNumber = new Map(Object.entries(EVENT_TYPE_NUMBERS).map(([k, n]) => [n, k]));
  return new Set(v.map((t) => {
    const name = typeof t === 'number' ? byNumber.get(t) : typeof t === 'string' && t in EVENT_TYPE_NUMBERS ? t : undefined;
    if (!name) throw new VigilError('VIGIL_USAGE', `${where}: unknown event type ${JSON.stringify(t)} (known: ${Object.keys(EVENT_TYPE_NUMBERS).join(', ')})`);
    return name;
  }));
}
