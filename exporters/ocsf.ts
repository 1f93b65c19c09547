// Events as OCSF 1.x documents (--export-file-format ocsf, --syslog-format
// ocsf): process_exec and process_exit as Process Activity (1007, Launch and
// Terminate), policy events about a file as File System Activity (1001),
// about a socket as Network Activity (4001). Other policy events and the
// agent's own reports are Base Events (0) with the Tetragon event in
// unmapped. test/lib/ocsf-classes.ts holds each class's required
// attributes, from the schema, that the tests check.
import type { TetragonEvent, TetragonProcess, TetragonProcessStub } from './tetragon.js';
import { baseName, endpoints, enforced, epochMs, facts, filePath, full, type Endpoints, type PolicyFacts } from './event-facts.js';
import { VIGIL_VERSION } from './version.js';

export const OCSF_VERSION = '1.3.0';

type Doc = Record<string, unknown>;

const CLASSES = {
  process: { class_uid: 1007, class_name: 'Process Activity', category_uid: 1, category_name: 'System Activity' },
  file: { class_uid: 1001, class_name: 'File System Activity', category_uid: 1, category_name: 'System Activity' },
  network: { class_uid: 4001, class_name: 'Network Activity', category_uid: 4, category_name: 'Network Activity' },
  base: { class_uid: 0, class_name: 'Base Event', category_uid: 0, category_name: 'Uncategorized' },
} as const;

const SEVERITY = { 1: 'Informational', 2: 'Low', 3: 'Medium' } as const;

function processObject(p: TetragonProcess | TetragonProcessStub, parent?: TetragonProcess): Doc {
  const f = full(p);
  if (!f) return { pid: p.pid, created_time: epochMs(p.start_time) };
  return {
    pid: f.pid,
    tid: f.tid,
    uid: f.exec_id,
    name: baseName(f.binary),
    cmd_line: f.arguments ? `${f.binary} ${f.arguments}` : f.binary,
    file: { path: f.binary, name: baseName(f.binary), type_id: 1, type: 'Regular File' },
    created_time: epochMs(f.start_time),
    user: { uid: String(f.process_credentials?.euid ?? f.uid) },
    ...(f.pod?.container ? {
      container: {
        uid: f.pod.container.id.replace(/^[a-z-]+:\/\//, ''), ...(f.pod.container.name ? { name: f.pod.container.name } : {}),
        ...(f.pod.container.image ? { image: { name: f.pod.container.image.name, ...(f.pod.container.image.id ? { uid: f.pod.container.image.id } : {}) } } : {}),
        orchestrator: 'kubernetes',
      },
    } : {}),
    ...(parent ? { parent_process: processObject(parent) } : f.parent_exec_id ? { parent_process: { uid: f.parent_exec_id } } : {}),
  };
}

/** The pod, which OCSF has no attributes for. */
const podUnmapped = (p?: TetragonProcess): Doc => (p?.pod ? { pod: { namespace: p.pod.namespace, name: p.pod.name, ...(p.pod.pod_labels ? { labels: p.pod.pod_labels } : {}) } } : {});

function fileActivity(hook: string): [number, string] {
  if (/unlink|rmdir/.test(hook)) return [4, 'Delete'];
  if (/rename/.test(hook)) return [5, 'Rename'];
  if (/chmod|chown|setattr|setxattr/.test(hook)) return [6, 'Set Attributes'];
  if (/mkdir|creat|mknod/.test(hook)) return [1, 'Create'];
  if (/write|truncate/.test(hook)) return [3, 'Update'];
  if (/read/.test(hook)) return [2, 'Read'];
  if (/umount/.test(hook)) return [13, 'Unmount'];
  if (/mount/.test(hook)) return [12, 'Mount'];
  if (/open|fd_install/.test(hook)) return [14, 'Open'];
  return [99, 'Other'];
}

function networkActivity(hook: string): [number, string, number] {
  if (/connect/.test(hook)) return [1, 'Open', 2];
  if (/accept/.test(hook)) return [1, 'Open', 1];
  if (/close/.test(hook)) return [2, 'Close', 0];
  if (/listen/.test(hook)) return [7, 'Listen', 1];
  if (/send|recv|sendmsg|recvmsg/.test(hook)) return [6, 'Traffic', 0];
  return [99, 'Other', 0];
}

const endpoint = (e?: { ip?: string; port?: number }): Doc | undefined => (e ? { ...(e.ip ? { ip: e.ip } : {}), ...(e.port ? { port: e.port } : {}) } : undefined);

function networkFields(pf: PolicyFacts, net: Endpoints): Doc {
  const [activity_id, activity_name, direction_id] = networkActivity(pf.hook.toLowerCase());
  return {
    activity_id, activity_name,
    ...(net.source ? { src_endpoint: endpoint(net.source) } : {}),
    ...(net.destination ? { dst_endpoint: endpoint(net.destination) } : {}),
    connection_info: {
      direction_id, ...(net.transport ? { protocol_name: net.transport, protocol_num: net.ianaNumber } : {}),
      ...(net.family ? { protocol_ver_id: net.family === 'ipv4' ? 4 : 6 } : {}),
    },
  };
}

export function ocsfDocument(ev: TetragonEvent): Doc {
  const f = facts(ev);
  const proc = full(f.process);
  const common: Doc = {
    time: epochMs(ev.time),
    metadata: { version: OCSF_VERSION, product: { name: 'Vigil', vendor_name: 'Vigil', version: VIGIL_VERSION }, original_time: ev.time, log_name: Object.keys(ev)[0] },
    device: { hostname: ev.node_name, name: ev.node_name, type_id: 0, type: 'Unknown' },
  };
  let cls: (typeof CLASSES)[keyof typeof CLASSES] = CLASSES.base;
  let body: Doc = { activity_id: 99, activity_name: 'Other' };
  let severity: keyof typeof SEVERITY = 1;
  if (f.kind === 'exec') {
    cls = CLASSES.process;
    const actor = f.parent ? { process: processObject(f.parent) } : { user: { uid: String(proc?.uid ?? 0) } };
    body = { activity_id: 1, activity_name: 'Launch', actor, process: processObject(f.process!, f.parent) };
  } else if (f.kind === 'exit') {
    cls = CLASSES.process;
    const x = ev.process_exit!;
    body = {
      activity_id: 2, activity_name: 'Terminate', actor: { process: processObject(f.process!) },
      process: { ...processObject(f.process!, f.parent), terminated_time: epochMs(x.time) }, exit_code: x.status ?? 0,
    };
  } else if (f.kind === 'policy') {
    const pf = f.policy!;
    const path = filePath(pf.args);
    const net = endpoints(pf.args);
    const actor = { process: processObject(f.process!, f.parent) };
    severity = enforced(pf.action) ? 3 : 1;
    if (net && (net.source || net.destination)) {
      cls = CLASSES.network;
      body = { ...networkFields(pf, net), actor };
    } else if (path) {
      cls = CLASSES.file;
      const [activity_id, activity_name] = fileActivity(pf.hook.toLowerCase());
      body = { activity_id, activity_name, actor, file: { path, name: baseName(path), type_id: 0, type: 'Unknown' } };
    } else {
      body = { ...body, actor };
    }
    if (enforced(pf.action)) Object.assign(body, { action_id: 2, action: 'Denied', disposition_id: 2, disposition: 'Blocked' });
    if (pf.message) body.message = pf.message;
    if (pf.tags?.length) (common.metadata as Doc).labels = pf.tags;
    body.unmapped = { policy_name: pf.policy, function_name: pf.hook, action: pf.action, args: pf.args, ...podUnmapped(proc) };
  } else {
    severity = 2;
    body = { ...body, message: f.kind === 'lost' ? `${ev.vigil_lost!.lost} events lost before export` : f.kind === 'rate_limit'
      ? `${ev.rate_limit_info!.number_of_dropped_process_events} events dropped by the export rate limit` : 'event', unmapped: ev };
  }
  if (f.kind === 'exec' || f.kind === 'exit') {
    const pod = podUnmapped(proc);
    if (pod.pod) body.unmapped = pod;
  }
  const activity = body.activity_id as number;
  return {
    ...body, ...cls, type_uid: cls.class_uid * 100 + activity, type_name: `${cls.class_name}: ${body.activity_name}`,
    severity_id: severity, severity: SEVERITY[severity], ...common,
  };
}

export const ocsfLine = (ev: TetragonEvent): string => JSON.stringify(ocsfDocument(ev));
