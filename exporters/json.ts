// Serializes events to JSON text. A process object is immutable once
// cached, and the same process appears in many events (as process, parent
// and ancestor), so its text is computed once and spliced in. Strings and
// numbers, most of the rest, are written without a JSON.stringify call each.
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

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters, lone surrogates. */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A value's JSON text, as JSON.stringify writes it (undefined for undefined). */
function value(v: unknown): string | undefined {
  if (typeof v === 'string') return ESCAPED.test(v) ? JSON.stringify(v) : `"${v}"`;
  if (typeof v === 'number' && Number.isFinite(v)) return `${v}`;
  return JSON.stringify(v);
}

/** The last node name and its text: one agent has one. */
let nodeName = '';
let nodeNameText = '""';

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
        : value(v);
    if (text === undefined) continue;
    inner = inner === '' ? `"${k}":${text}` : `${inner},"${k}":${text}`;
  }
  let rest = '';
  for (const k in ev) {
    const v = ev[k as keyof TetragonEvent];
    if (k === kind || v === undefined) continue;
    if (k === 'node_name' && typeof v === 'string') {
      if (v !== nodeName) {
        nodeName = v;
        nodeNameText = JSON.stringify(v);
      }
      rest += `,"node_name":${nodeNameText}`;
      continue;
    }
    const text = value(v);
    if (text !== undefined) rest += `,"${k}":${text}`;
  }
  return `{"${kind}":{${inner}}${rest}}`;
}
