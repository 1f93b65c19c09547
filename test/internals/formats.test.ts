// ECS and OCSF documents of hand-made events, a pod among them, checked
// against the ECS field reference and OCSF's required attributes.
import t from 'tap';
import { ecsDocument } from '../../exporters/ecs.js';
import { ocsfDocument } from '../../exporters/ocsf.js';
import { splitArgs } from '../../exporters/event-facts.js';
import { argumentString } from '../../agent/process/format.js';
import { lineFormat } from '../../exporters/formats.js';
import type { TetragonEvent, TetragonProcess } from '../../exporters/tetragon.js';
import { ecsErrors } from '../lib/ecs-fields.js';
import { ocsfErrors } from '../lib/ocsf-classes.js';

const T = '2024-05-01T10:00:00.123456789Z';
const proc = (binary: string, args: string, extra: Partial<TetragonProcess> = {}): TetragonProcess => ({
  exec_id: Buffer.from(`n:1:${binary}`).toString('base64'), pid: 4242, uid: 1000, cwd: '/home/alice', binary, arguments: args, flags: 'execve',
  start_time: T, auid: 1000, parent_exec_id: 'cGFyZW50', tid: 4243, cap: { permitted: ['CAP_NET_RAW'], effective: ['CAP_NET_RAW'], inheritable: [] },
  process_credentials: { uid: 1000, gid: 1000, euid: 0, egid: 0, suid: 1000, sgid: 1000, fsuid: 0, fsgid: 0 }, ...extra,
});
const pod = {
  namespace: 'shop', name: 'cart-7d9', workload: 'cart', workload_kind: 'Deployment', pod_labels: { app: 'cart' },
  container: { id: 'containerd://0123abcd', name: 'cart', image: { id: 'docker.io/library/cart@sha256:00', name: 'docker.io/library/cart:1' } },
};
const sh = proc('/bin/sh', '-c "curl -s http://x"');
const curl = proc('/usr/bin/curl', '-s "a b"  q"uote', { pod });
const base = { node_name: 'node-1', time: T };
const EVENTS: Record<string, TetragonEvent> = {
  exec: { process_exec: { process: curl, parent: sh }, ...base },
  exit: { process_exit: { process: curl, parent: sh, signal: 'SIGKILL', status: 0, time: T }, ...base },
  file: { process_kprobe: { process: curl, parent: sh, function_name: 'security_file_permission', args: [{ file_arg: { path: '/etc/shadow', flags: '' } }, { int_arg: 4 }], action: 'KPROBE_ACTION_POST', policy_name: 'file-integrity', message: 'sensitive file', tags: ['fim'] }, ...base },
  connect: { process_kprobe: { process: curl, parent: sh, function_name: '__x64_sys_connect', args: [{ int_arg: 3, label: 'fd' }, { sockaddr_arg: { family: 'AF_INET', addr: '10.1.2.3', port: 443 } }], action: 'KPROBE_ACTION_OVERRIDE', policy_name: 'deny-egress' }, ...base },
  tcp: { process_kprobe: { process: curl, function_name: 'tcp_close', args: [{ sock_arg: { family: 'AF_INET6', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '::1', daddr: '::1', sport: 40000, dport: 8080 } }], action: 'KPROBE_ACTION_POST', policy_name: 'network-tcp' }, ...base },
  lsm: { process_lsm: { process: { pid: 7, start_time: T }, function_name: 'bpf', policy_name: 'p', args: [], action: 'KPROBE_ACTION_POST' }, ...base },
  lost: { vigil_lost: { lost: 5, undecodable: 5 }, ...base },
  rate: { rate_limit_info: { number_of_dropped_process_events: '12' }, ...base },
};

t.test('argv survives Tetragon\'s argument string, where it can be told', async (t) => {
  for (const argv of [['x'], ['x', 'a', 'b'], ['x', 'a b', 'c'], ['x', 'a', 'b c d', 'q"uote', 'back\\slash', 'tab\there', 'new\nline'], ['x', 'say "hi there"', 'z']]) {
    t.same(splitArgs(argumentString(argv)), argv.slice(1), JSON.stringify(argv));
  }
});

t.test('every ECS document uses ECS fields with their ECS types', async (t) => {
  for (const [name, ev] of Object.entries(EVENTS)) t.same(ecsErrors(ecsDocument(ev)), [], name);
});

t.test('ECS: process, parent, user, pod, file, network and event fields', async (t) => {
  const e = ecsDocument(EVENTS.exec) as any;
  t.match(e, {
    '@timestamp': T, ecs: { version: /^8\./ }, host: { name: 'node-1' }, user: { id: '0' },
    event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec' },
    process: {
      pid: 4242, entity_id: curl.exec_id, executable: '/usr/bin/curl', name: 'curl', args: ['/usr/bin/curl', '-s', 'a b', '', 'q"uote'], args_count: 5,
      command_line: '/usr/bin/curl -s "a b"  q"uote', working_directory: '/home/alice', start: T, thread: { id: 4243 },
      user: { id: '0' }, real_user: { id: '1000' }, saved_user: { id: '1000' },
      parent: { pid: 4242, executable: '/bin/sh', args: ['/bin/sh', '-c', 'curl -s http://x'] },
    },
    container: { id: '0123abcd', name: 'cart', image: { name: 'docker.io/library/cart:1' }, runtime: 'containerd' },
    orchestrator: { type: 'kubernetes', namespace: 'shop', resource: { type: 'pod', name: 'cart-7d9', label: ['app:cart'], parent: { type: 'Deployment' } } },
  });
  t.match(ecsDocument(EVENTS.exit), { event: { type: ['end'] }, process: { exit_code: 137, end: T } }, 'killed by SIGKILL: 128+9');
  t.match(ecsDocument(EVENTS.file), {
    event: { kind: 'alert', category: ['file'], type: ['access'], action: 'security_file_permission' },
    file: { path: '/etc/shadow', name: 'shadow', directory: '/etc' }, rule: { name: 'file-integrity' }, message: 'sensitive file', tags: ['fim'],
  });
  t.equal(JSON.parse((ecsDocument(EVENTS.file) as any).event.original).process_kprobe.policy_name, 'file-integrity', 'the Tetragon event in event.original');
  t.match(ecsDocument(EVENTS.connect), { event: { category: ['network'], type: ['connection', 'denied'], outcome: 'failure' }, destination: { ip: '10.1.2.3', port: 443 }, network: { type: 'ipv4' } });
  t.match(ecsDocument(EVENTS.tcp), { source: { ip: '::1', port: 40000 }, destination: { port: 8080 }, network: { type: 'ipv6', transport: 'tcp', iana_number: '6' } });
});

t.test('every OCSF document has its class\'s required attributes', async (t) => {
  for (const [name, ev] of Object.entries(EVENTS)) t.same(ocsfErrors(ocsfDocument(ev)), [], name);
});

t.test('OCSF: classes, activities and what they carry', async (t) => {
  t.match(ocsfDocument(EVENTS.exec), {
    class_uid: 1007, category_uid: 1, activity_id: 1, type_uid: 100701, severity_id: 1, time: Date.parse(T),
    metadata: { version: /^1\./, product: { name: 'Vigil' }, original_time: T },
    actor: { process: { name: 'sh' } }, process: { pid: 4242, uid: curl.exec_id, cmd_line: '/usr/bin/curl -s "a b"  q"uote', file: { path: '/usr/bin/curl' }, parent_process: { name: 'sh' }, container: { uid: '0123abcd', orchestrator: 'kubernetes' } },
    unmapped: { pod: { namespace: 'shop', name: 'cart-7d9' } },
  });
  t.match(ocsfDocument(EVENTS.exit), { class_uid: 1007, activity_id: 2, type_uid: 100702 });
  t.match(ocsfDocument(EVENTS.file), { class_uid: 1001, activity_id: 99, file: { path: '/etc/shadow', name: 'shadow' }, unmapped: { policy_name: 'file-integrity' } });
  t.match(ocsfDocument(EVENTS.connect), { class_uid: 4001, category_uid: 4, activity_id: 1, dst_endpoint: { ip: '10.1.2.3', port: 443 }, connection_info: { direction_id: 2 }, action_id: 2, disposition_id: 2, severity_id: 3 });
  t.match(ocsfDocument(EVENTS.lsm), { class_uid: 0, activity_id: 99, type_uid: 99 });
  t.match(ocsfDocument(EVENTS.rate), { class_uid: 0, message: '12 events dropped by the export rate limit' });
});

t.test('each format writes one line an event', async (t) => {
  for (const f of ['json', 'ecs', 'ocsf'] as const) {
    for (const ev of Object.values(EVENTS)) {
      const line = lineFormat(f)(ev)!;
      t.notOk(line.includes('\n'), `${f}: one line`);
      JSON.parse(line);
    }
  }
});
