// The ECS 8.x fields Vigil's ECS documents use, with their ECS types, as
// the ECS field reference gives them (elastic/ecs generated/csv/fields.csv,
// 8.12): a field not listed here, or a value not of its type, fails the
// ECS tests. "array" marks fields whose ECS normalization is an array.
import { isIP } from 'node:net';

type EcsType = 'keyword' | 'wildcard' | 'match_only_text' | 'long' | 'date' | 'ip';
interface EcsField { type: EcsType; array?: true }

const k: EcsField = { type: 'keyword' };
const karr: EcsField = { type: 'keyword', array: true };
const long: EcsField = { type: 'long' };
const date: EcsField = { type: 'date' };

/** process.* and process.parent.* share these. */
const PROCESS: Record<string, EcsField> = {
  pid: long, entity_id: k, executable: k, name: k, args: karr, args_count: long, command_line: { type: 'wildcard' },
  working_directory: k, start: date, end: date, exit_code: long, 'thread.id': long,
  'thread.capabilities.effective': karr, 'thread.capabilities.permitted': karr,
  'user.id': k, 'group.id': k, 'real_user.id': k, 'real_group.id': k, 'saved_user.id': k, 'saved_group.id': k,
};

export const ECS_FIELDS: Record<string, EcsField> = {
  '@timestamp': date, message: { type: 'match_only_text' }, tags: karr,
  'ecs.version': k, 'agent.type': k, 'agent.version': k, 'host.name': k,
  'event.kind': k, 'event.module': k, 'event.dataset': k, 'event.category': karr, 'event.type': karr, 'event.action': k,
  'event.outcome': k, 'event.end': date, 'event.original': k,
  ...Object.fromEntries(Object.entries(PROCESS).map(([f, t]) => [`process.${f}`, t])),
  ...Object.fromEntries(Object.entries(PROCESS).map(([f, t]) => [`process.parent.${f}`, t])),
  'user.id': k,
  'file.path': k, 'file.name': k, 'file.directory': k,
  'source.ip': { type: 'ip' }, 'source.port': long, 'destination.ip': { type: 'ip' }, 'destination.port': long,
  'network.type': k, 'network.transport': k, 'network.iana_number': k,
  'container.id': k, 'container.name': k, 'container.image.name': k, 'container.runtime': k,
  'orchestrator.type': k, 'orchestrator.namespace': k, 'orchestrator.resource.type': k, 'orchestrator.resource.name': k,
  'orchestrator.resource.label': karr, 'orchestrator.resource.parent.type': k,
  'rule.name': k,
};

/** ECS's allowed values of the categorization fields Vigil sets. */
export const ECS_ALLOWED: Record<string, string[]> = {
  'event.kind': ['alert', 'asset', 'enrichment', 'event', 'metric', 'state', 'pipeline_error', 'signal'],
  'event.category': ['api', 'authentication', 'configuration', 'database', 'driver', 'email', 'file', 'host', 'iam', 'intrusion_detection', 'library', 'malware', 'network', 'package', 'process', 'registry', 'session', 'threat', 'vulnerability', 'web'],
  'event.type': ['access', 'admin', 'allowed', 'change', 'connection', 'creation', 'deletion', 'denied', 'device', 'end', 'error', 'group', 'indicator', 'info', 'installation', 'protocol', 'start', 'user'],
  'event.outcome': ['failure', 'success', 'unknown'],
};

/** The leaves of a document as dotted paths; a list of scalars is one leaf. */
export function flatten(doc: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(doc).flatMap(([key, v]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? flatten(v as Record<string, unknown>, path) : [[path, v] as [string, unknown]];
  });
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

function valueOk(t: EcsType, v: unknown): boolean {
  switch (t) {
    case 'keyword': case 'wildcard': case 'match_only_text': return typeof v === 'string';
    case 'long': return Number.isSafeInteger(v);
    case 'date': return typeof v === 'string' && RFC3339.test(v) && !Number.isNaN(Date.parse(v));
    case 'ip': return typeof v === 'string' && isIP(v) !== 0;
  }
}

/** Why a document is not ECS as this table has it; none when it is. */
export function ecsErrors(doc: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const [path, v] of flatten(doc)) {
    const f = ECS_FIELDS[path];
    if (!f) {
      errors.push(`${path}: not an ECS field`);
      continue;
    }
    const values = Array.isArray(v) ? v : [v];
    if (Array.isArray(v) && !f.array) errors.push(`${path}: a list where ECS has one ${f.type}`);
    for (const x of values) if (!valueOk(f.type, x)) errors.push(`${path}: ${JSON.stringify(x)} is not an ECS ${f.type}`);
    const allowed = ECS_ALLOWED[path];
    for (const x of values) if (allowed && !allowed.includes(x as string)) errors.push(`${path}: ${JSON.stringify(x)} is not an allowed value`);
  }
  return errors;
}
