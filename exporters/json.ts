// Serializes events to JSON text. A process object is immutable once
// cached, and the same process appears in many events (as process, parent
// and ancestor), so its text is computed once and spliced in.
import { eventType, type TetragonEvent, type TetragonProcess } from './tetragon.js';

const processText = new WeakMap<TetragonProcess, string>();

function proc(p: TetragonProcess): string {
  let s = processText.get(p);
  if (s === undefined) {
    s = JSON.stringify(p);
    processText.set(p, s);
  }
  return s;
}

function ancestorsText(list: TetragonProcess[]): string {
  let s = proc(list[0]);
  for (let i = 1; i < list.length; i++) s += `,${proc(list[i])}`;
  return `[${s}]`;
}

/** The text of JSON.stringify(ev), faster when processes repeat, without the event's empty lists. */
export function eventJson(ev: TetragonEvent): string {
  const kind = eventType(ev);
  if (!kind) return JSON.stringify(ev);
  const body = ev[kind] as unknown as Record<string, unknown>;
  let inner = '';
  for (const k in body) {
    const v = body[k];
    // protojson leaves an empty list out (a hook without args).
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    const text = k === 'process' || k === 'parent' ? proc(v as TetragonProcess)
      : k === 'ancestors' ? ancestorsText(v as TetragonProcess[])
        : JSON.stringify(v);
    inner = inner === '' ? `"${k}":${text}` : `${inner},"${k}":${text}`;
  }
  let rest = '';
  for (const k in ev) {
    const v = ev[k as keyof TetragonEvent];
    if (k === kind || v === undefined) continue;
    rest += `,"${k}":${JSON.stringify(v)}`;
  }
  return `{"${kind}":{${inner}}${rest}}`;
}
