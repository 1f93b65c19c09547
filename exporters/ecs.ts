// Events as Elastic Common Schema 8.x documents (--export-file-format ecs,
// --syslog-format ecs). Each Tetragon field goes to the ECS field of the
// same meaning; test/lib/ecs-fields.ts holds the ECS reference it is
// checked against, names and types. Policy events keep their arguments,
// which ECS has no fields for, as the Tetragon JSON in event.original.
import type { TetragonEvent, TetragonProcess, TetragonProcessStub } from './tetragon.js';
import { baseName, dirName, endpoints, enforced, facts, filePath, full, splitArgs, type PolicyFacts } from './event-facts.js';
import { eventJson } from './json.js';
import { VIGIL_VERSION } from './version.js';

export const ECS_VERSION = '8.12.0';

type Doc = Record<string, unknown>;

const ids = (p: TetragonProcess): Doc => {
  const c = p.process_credentials;
  return {
    user: { id: String(c?.euid ?? p.uid) },
    group: { id: String(c?.egid ?? 0) },
    real_user: { id: String(c?.uid ?? p.uid) },
    real_group: { id: String(c?.gid ?? 0) },
    saved_user: { id: String(c?.suid ?? p.uid) },
    saved_group: { id: String(c?.sgid ?? 0) },
  };
};

/** A process in ECS's process.* (and process.parent.*) fields. */
function processFields(p: TetragonProcess | TetragonProcessStub): Doc {
  const f = full(p);
  if (!f) return { pid: p.pid, start: p.start_time };
  const args = [f.binary, ...splitArgs(f.arguments ?? '')];
  return {
    pid: f.pid,
    entity_id: f.exec_id,
    executable: f.binary,
    name: baseName(f.binary),
    args,
    args_count: args.length,
    command_line: f.arguments ? `${f.binary} ${f.arguments}` : f.binary,
    working_directory: f.cwd,
    start: f.start_time,
    thread: { id: f.tid, capabilities: { effective: kernelCapNames(f.cap?.effective), permitted: kernelCapNames(f.cap?.permitted) } },
    ...ids(f),
  };
}

/** ECS names capabilities as the kernel does (CAP_DAC_OVERRIDE), where Tetragon's enum drops one prefix. */
const kernelCapNames = (names: (string | number)[] | undefined): string[] =>
  (names ?? []).map((n) => (typeof n === 'number' ? `CAP_${n}` : n.startsWith('CAP_') ? n : `CAP_${n}`));

function podFields(p: TetragonProcess | undefined): Doc {
  const pod = p?.pod;
  if (!pod) return {};
  const c = pod.container;
  const runtime = c?.id.match(/^([a-z-]+):\/\//)?.[1];
  return {
    ...(c ? {
      container: {
        id: c.id.replace(/^[a-z-]+:\/\//, ''), ...(c.name ? { name: c.name } : {}), ...(c.image ? { image: { name: c.image.name } } : {}), ...(runtime ? { runtime } : {}),
      },
    } : {}),
    orchestrator: {
      type: 'kubernetes',
      namespace: pod.namespace,
      resource: {
        type: 'pod', name: pod.name,
        ...(pod.pod_labels ? { label: Object.entries(pod.pod_labels).map(([k, v]) => `${k}:${v}`) } : {}),
        ...(pod.workload_kind ? { parent: { type: pod.workload_kind } } : {}),
      },
    },
  };
}

/** event.category, event.type and the fields of what a policy event is about. */
function policyFields(pf: PolicyFacts): Doc {
  const path = filePath(pf.args);
  const net = endpoints(pf.args);
  const denied = pf.action === 'KPROBE_ACTION_OVERRIDE';
  const hook = pf.hook.toLowerCase();
  if (net) {
    return {
      event: { category: ['network'], type: denied ? ['connection', 'denied'] : ['connection', 'start'] },
      ...(net.source ? { source: net.source } : {}),
      ...(net.destination ? { destination: net.destination } : {}),
      network: { ...(net.family ? { type: net.family } : {}), ...(net.transport ? { transport: net.transport, iana_number: String(net.ianaNumber) } : {}) },
    };
  }
  if (path) {
    const type = /unlink|rmdir/.test(hook) ? 'deletion' : /rename|chmod|chown|setattr|write|truncate/.test(hook) ? 'change' : /mkdir|creat|mknod/.test(hook) ? 'creation' : 'access';
    return { event: { category: ['file'], type: denied ? [type, 'denied'] : [type] }, file: { path, name: baseName(path), directory: dirName(path) } };
  }
  return { event: { category: ['process'], type: denied ? ['denied'] : ['info'] } };
}

export function ecsDocument(ev: TetragonEvent): Doc {
  const f = facts(ev);
  const proc = full(f.process);
  const doc: Doc = {
    '@timestamp': ev.time,
    ecs: { version: ECS_VERSION },
    agent: { type: 'vigil', version: VIGIL_VERSION },
    host: { name: ev.node_name },
  };
  let event: Doc = { kind: 'event', module: 'vigil', dataset: `vigil.${Object.keys(ev).find((k) => k !== 'node_name' && k !== 'time')}` };
  if (f.process) {
    doc.process = { ...processFields(f.process), ...(f.parent ? { parent: processFields(f.parent) } : proc?.parent_exec_id ? { parent: { entity_id: proc.parent_exec_id } } : {}) };
    if (proc) doc.user = { id: String(proc.process_credentials?.euid ?? proc.uid) };
    Object.assign(doc, podFields(proc));
  }
  if (f.kind === 'exec') event = { ...event, category: ['process'], type: ['start'], action: 'exec' };
  if (f.kind === 'exit') {
    const x = ev.process_exit!;
    event = { ...event, category: ['process'], type: ['end'], action: 'exit', end: x.time };
    Object.assign(doc.process as Doc, { exit_code: x.signal ? 128 + signalNumber(x.signal) : x.status ?? 0, end: x.time });
  }
  if (f.kind === 'policy') {
    const pf = f.policy!;
    const more = policyFields(pf);
    event = { ...event, kind: 'alert', action: pf.hook, ...(more.event as Doc), ...(enforced(pf.action) ? { outcome: 'failure' } : {}), original: eventJson(ev) };
    delete more.event;
    Object.assign(doc, more, { rule: { name: pf.policy } });
    if (pf.message) doc.message = pf.message;
    if (pf.tags?.length) doc.tags = pf.tags;
  }
  if (f.kind === 'lost') {
    event = { ...event, action: 'events-lost' };
    doc.message = `${ev.vigil_lost!.lost} events lost before export`;
  }
  if (f.kind === 'rate_limit') {
    event = { ...event, action: 'rate-limit' };
    doc.message = `${ev.rate_limit_info!.number_of_dropped_process_events} events dropped by the export rate limit`;
  }
  doc.event = event;
  return doc;
}

const SIGNALS = ['', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM'];

/** A signal's number from its name; the shell's 128+n exit code convention uses it. */
const signalNumber = (name: string): number => {
  const n = SIGNALS.indexOf(name);
  return n > 0 ? n : 0;
};

export const ecsLine = (ev: TetragonEvent): string => JSON.stringify(ecsDocument(ev));
