// vigil events: a live, filtered tail of the running agent's events, or of
// exported lines read back (--input), as `tetra getevents` prints them.
import { once } from 'node:events';
import { request } from '../control/client.js';
import { readInput, inputSummary } from './events-input.js';
import { matches, parseEventTypes, type EventFilter } from '../../exporters/filter.js';
import { compactLine } from '../../exporters/compact.js';
import { paletteFor, type ColorMode } from '../../exporters/compact-color.js';
import { eventType, type TetragonEvent } from '../../exporters/tetragon.js';
import { applyFieldFilters } from '../../exporters/filters/field-filter.js';
import { parseRules } from '../../exporters/export-rules.js';
import { eventJson } from '../../exporters/json.js';
import { VigilError } from '../../kernel/errors.js';

export interface EventsOptions {
  output: 'compact' | 'json';
  process?: string;
  pid: string[];
  eventTypes?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  host?: boolean;
  policyNames?: string;
  timestamps?: boolean;
  color?: ColorMode;
  input?: string;
  allowlist?: string;
  denylist?: string;
  fieldFilters?: string;
  socket: string;
}

export function buildFilter(opts: EventsOptions): EventFilter {
  const f: EventFilter = {};
  try {
    if (opts.process) f.process = new RegExp(opts.process);
    if (opts.eventTypes) f.types = parseEventTypes(opts.eventTypes);
    if (opts.pod) f.pod = new RegExp(opts.pod);
  } catch (err) {
    throw new VigilError('VIGIL_USAGE', (err as Error).message);
  }
  if (opts.namespace !== undefined) f.namespace = opts.namespace;
  if (opts.container !== undefined) f.container = opts.container;
  if (opts.host) f.host = true;
  if (opts.policyNames) f.policyNames = opts.policyNames.split(',').map((n) => n.trim()).filter(Boolean);
  if (opts.pid.length) {
    f.pids = opts.pid.map(Number);
    if (f.pids.some((p) => !Number.isInteger(p))) throw new VigilError('VIGIL_USAGE', `--pid takes integers, got ${opts.pid.join(',')}`);
  }
  return f;
}

export async function events(opts: EventsOptions): Promise<void> {
  const filter = buildFilter(opts);
  // Tetragon's filters, as the exports take them; the agent's --ancestors is not known here, so ancestor filters are allowed.
  const rules = parseRules(opts, { allowlist: '--allowlist', denylist: '--denylist', fieldFilters: '--field-filters' }, { ancestors: true });
  const compact = { palette: paletteFor(opts.color ?? 'auto', process.stdout), timestamps: opts.timestamps };
  process.stdout.on('error', () => process.exit(0));
  const show = (line: string, ev: TetragonEvent): void => {
    if (!matches(filter, ev) || (rules.filter && !ev.vigil_lost && !rules.filter(ev))) return;
    const shown = rules.fields ? applyFieldFilters(rules.fields, ev) : ev;
    const out = opts.output === 'json' ? (shown === ev ? line : eventJson(shown)) : compactLine(shown, compact);
    if (out !== undefined) process.stdout.write(`${out}\n`);
  };
  if (opts.input !== undefined) {
    const path = opts.input;
    const drained = (): Promise<void> | undefined => (process.stdout.writableNeedDrain ? once(process.stdout, 'drain').then(() => undefined) : undefined);
    const tally = await readInput(path, (line) => {
      const ev = parseEvent(line);
      try {
        if (ev) show(line, ev);
        return ev !== undefined;
      } catch {
        return false; // A JSON object whose fields are not an event's shapes.
      }
    }, drained);
    const summary = inputSummary(path, tally);
    if (summary) process.stderr.write(`${summary}\n`);
    return;
  }
  await request(opts.socket, { op: 'events' }, (line) => {
    const ev = JSON.parse(line) as TetragonEvent & { vigil_notice?: unknown };
    if (ev.vigil_notice) {
      process.stderr.write(`vigil: ${JSON.stringify(ev.vigil_notice)}\n`);
      return;
    }
    show(line, ev);
  });
}

/** An exported line as an event: a JSON object with a node name and an event kind's object; anything else is undefined. */
function parseEvent(line: string): TetragonEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const ev = v as TetragonEvent;
  const kind = eventType(ev);
  const body: unknown = kind && ev[kind];
  return typeof ev.node_name === 'string' && body !== null && typeof body === 'object' ? ev : undefined;
}
