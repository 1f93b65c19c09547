// Tetragon's event schema: lines written from the proto's facts pass it, in
// both the form Tetragon writes and the wider form protojson parses; lines
// protojson would reject, or Tetragon would never write, fail it with a
// message that names the path and what is wrong.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TETRAGON_SCHEMA, validateExportFile, validateTetragonLine } from '../lib/tetragon-schema.js';

type Json = Record<string, unknown>;
const line = (o: unknown): string => JSON.stringify(o);

const caps = { permitted: ['CAP_CHOWN', 'DAC_OVERRIDE', 'CAP_SYS_ADMIN'], effective: ['CAP_CHOWN', 'DAC_OVERRIDE'], inheritable: ['CAP_CHOWN'] };
const ns = (inum: number): Json => ({ inum, is_host: true });
const process: Json = {
  exec_id: 'bm9kZToxMjM0NTY3ODk6NDIx', pid: 421, uid: 1000, cwd: '/home/u', binary: '/usr/bin/curl',
  arguments: '-s https://example.invalid', flags: 'execve clone', start_time: '2024-05-06T07:08:09.123456789Z', auid: 1000,
  pod: {
    namespace: 'default', name: 'web-0', uid: '5f0c', workload: 'web', workload_kind: 'StatefulSet',
    pod_labels: { app: 'web' }, pod_annotations: { 'example.com/owner': 'team-a' },
    container: {
      id: 'containerd://0123abcd', name: 'web', image: { id: 'docker.io/library/nginx@sha256:00', name: 'nginx:1.25' },
      start_time: '2024-05-06T07:00:00Z', pid: 7, maybe_exec_probe: true, security_context: { privileged: true },
    },
  },
  docker: '0123abcd', parent_exec_id: 'bm9kZToxMjM0NTY3MDA6NDIw', refcnt: 1, cap: caps,
  ns: {
    uts: ns(4026531838), ipc: ns(4026531839), mnt: ns(4026531841), pid: ns(4026531836), pid_for_children: ns(4026531836),
    net: ns(4026531840), time: ns(4026531834), time_for_children: ns(4026531834), cgroup: ns(4026531835), user: ns(4026531837),
  },
  tid: 421,
  process_credentials: {
    uid: 1000, gid: 1000, euid: 0, egid: 1000, suid: 0, sgid: 1000, fsuid: 0, fsgid: 1000,
    securebits: ['SecBitNoRoot', 'SecBitKeepCaps'], caps, user_ns: { level: 0, uid: 0, gid: 0, ns: ns(4026531837) },
  },
  binary_properties: {
    setuid: 0, setgid: 0, privileges_changed: ['PRIVILEGES_RAISED_EXEC_FILE_SETUID'],
    file: { inode: { number: '1234567', links: 0 }, path: '/memfd:x (deleted)' },
  },
  user: { name: 'u' },
  in_init_tree: false,
  environment_variables: [{ Key: 'LANG', Value: 'C.UTF-8' }],
};
const parent: Json = { exec_id: 'bm9kZToxMjM0NTY3MDA6NDIw', pid: 420, uid: 1000, binary: '/bin/bash', start_time: '2024-05-06T07:08:00Z' };
/** What Tetragon reports of a process its cache missed. */
const stub: Json = { pid: 77, start_time: '2024-05-06T07:08:09.500Z' };
const where = { node_name: 'node-a', time: '2024-05-06T07:08:09.200Z' };

const kprobeArgs: Json[] = [
  { string_arg: '/etc/shadow', label: 'path' },
  { int_arg: -13 },
  { uint_arg: 4294967295 },
  { size_arg: '18446744073709551615' },
  { long_arg: '-9223372036854775808' },
  { bytes_arg: 'aGVsbG8=' },
  { truncated_bytes_arg: { bytes_arg: 'aGVsbG8gd29y', orig_size: '4096' } },
  { file_arg: { mount: '/', path: '/etc/passwd', flags: 'O_RDONLY', permission: '-rw-r--r--' } },
  { path_arg: { path: '/tmp/x', permission: 'drwxrwxrwt' } },
  { linux_binprm_arg: { path: '/tmp/evil', permission: '-rwx------' } },
  { sock_arg: { family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', mark: 1, priority: 6, saddr: '10.0.0.1', daddr: '10.0.0.2', sport: 43512, dport: 443, cookie: '18446744072', state: 'TCP_SYN_SENT' } },
  { skb_arg: { hash: 1, len: 60, priority: 6, mark: 1, saddr: '10.0.0.1', daddr: '10.0.0.2', sport: 1, dport: 2, proto: 6, sec_path_len: 1, sec_path_olen: 1, protocol: 'IPPROTO_TCP', family: 'AF_INET' } },
  { sockaddr_arg: { family: 'AF_INET6', addr: '::1', port: 8080 } },
  { sockaddrun_arg: { family: 'AF_UNIX', path: '/run/docker.sock' } },
  { net_dev_arg: { name: 'eth0' } },
  { cred_arg: { permitted: ['CAP_NET_RAW'], effective: ['CAP_NET_RAW'], inheritable: ['CAP_NET_RAW'] } },
  { capability_arg: { value: 21, name: 'CAP_SYS_ADMIN' } },
  { process_credentials_arg: { uid: 0, euid: 0, caps, securebits: ['SecBitNotSet'] } },
  { user_ns_arg: { level: 1, uid: 1000, gid: 1000, ns: { inum: 4026532000 } } },
  { user_namespace_arg: { level: 1, owner: 1000, group: 1000, ns: { inum: 4026532000 } } },
  { module_arg: { name: 'evil', signature_ok: false, tainted: ['TAINT_OUT_OF_TREE_MODULE', 'TAINT_UNSIGNED_MODULE'] } },
  { kernel_cap_t_arg: '000001ffffffffff' },
  { cap_inheritable_arg: '0000000000000000' },
  { cap_permitted_arg: '000001ffffffffff' },
  { cap_effective_arg: '000001ffffffffff' },
  { bpf_cmd_arg: 'BPF_PROG_LOAD' },
  { syscall_id: { id: 59, abi: 'x64' } },
  { bpf_attr_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', InsnCnt: 12, ProgName: 'probe' } },
  { bpf_prog_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', InsnCnt: 12, ProgName: 'probe' } },
  { perf_event_arg: { KprobeFunc: 'do_sys_open', Type: 'kprobe', Config: '1', ProbeOffset: '16' } },
  { bpf_map_arg: { MapType: 'BPF_MAP_TYPE_HASH', KeySize: 4, ValueSize: 8, MaxEntries: 1024, MapName: 'm' } },
  { error_arg: { Message: 'could not read' } },
  { label: 'nothing captured' },
];
const frame = { address: '18446744071562067968', offset: '16', symbol: 'do_sys_openat2' };

const VALID: Record<string, Json> = {
  process_exec: {
    process_exec: { process, parent, ancestors: [parent] }, ...where,
    cluster_name: 'prod', node_labels: { 'kubernetes.io/hostname': 'node-a' },
  },
  process_exit: { process_exit: { process, parent, signal: 'SIGKILL', status: 137, time: '2024-05-06T07:08:10Z', ancestors: [parent] }, ...where },
  process_kprobe: {
    process_kprobe: {
      process, parent, function_name: 'security_file_permission', args: kprobeArgs, return: { int_arg: 0 },
      action: 'KPROBE_ACTION_POST', kernel_stack_trace: [frame], policy_name: 'file-integrity',
      return_action: 'KPROBE_ACTION_POST', message: 'file read', tags: ['observability.filesystem'],
      user_stack_trace: [{ ...frame, module: '/usr/lib/libc.so.6' }], ancestors: [parent], data: [{ string_arg: 'x' }],
    },
    ...where,
  },
  process_lsm: {
    process_lsm: {
      process: stub, parent, function_name: 'file_open', policy_name: 'deny-open',
      message: 'denied', args: [{ file_arg: { path: '/etc/shadow' } }], action: 'KPROBE_ACTION_OVERRIDE',
      tags: ['enforcement'], ima_hash: 'sha256:00ff',
    },
    ...where,
  },
  process_tracepoint: {
    process_tracepoint: {
      process, parent, subsys: 'syscalls', event: 'sys_enter_openat', policy_name: 'tp', action: 'KPROBE_ACTION_SIGKILL',
      args: [{ int_arg: -100 }, { string_arg: '/etc/hosts' }, { long_arg: '0' }], message: 'open', tags: ['file'], ancestors: [parent],
    },
    ...where,
  },
  rate_limit_info: { rate_limit_info: { number_of_dropped_process_events: '12' }, ...where },
  process_loader: { process_loader: { process, path: '/usr/lib/libc.so.6', buildid: 'q83vEjRWeJA=', parent }, ...where },
  process_uprobe: {
    process_uprobe: {
      process, parent, path: '/usr/bin/bash', symbol: 'readline', policy_name: 'bash', message: 'm', args: [{ string_arg: 'ls' }],
      tags: ['shell'], offset: '4096', ref_ctr_offset: '8192', action: 'KPROBE_ACTION_POST', data: [{ int_arg: 0 }], user_stack_trace: [frame],
    },
    ...where,
  },
  process_usdt: {
    process_usdt: {
      process, parent, path: '/usr/bin/python3', provider: 'python', name: 'function__entry', policy_name: 'py', message: 'm',
      args: [{ uint_arg: 1 }], action: 'KPROBE_ACTION_SET', flags: 'x',
    },
    ...where,
  },
  process_throttle: { process_throttle: { type: 'THROTTLE_START', cgroup: '/sys/fs/cgroup/x' }, ...where },
  test: { test: { arg0: '1', arg1: '2', arg2: '3', arg3: '4' }, ...where, aggregation_info: { count: '3' } },
};

t.test('lines written from the proto facts pass, in the written and the parsed form', async (t) => {
  for (const [kind, ev] of Object.entries(VALID)) {
    t.same(validateTetragonLine(line(ev), 'written'), [], `${kind}, as Tetragon writes it`);
    t.same(validateTetragonLine(line(ev)), [], `${kind}, as protojson parses it`);
  }
});

t.test('the examples use every message of the schema, every event kind among them', async (t) => {
  const defs = TETRAGON_SCHEMA.definitions as Record<string, { properties?: Record<string, { $ref?: string; items?: { $ref?: string } }> }>;
  const used = new Set<string>();
  const visit = (name: string, value: unknown): void => {
    used.add(name);
    for (const [key, v] of Object.entries(value as Json)) {
      const prop = defs[name].properties![key];
      const ref = (prop.$ref ?? prop.items?.$ref)?.replace('#/definitions/', '');
      if (!ref || !defs[ref]?.properties) continue;
      for (const item of Array.isArray(v) ? v : [v]) visit(ref, item);
    }
  };
  for (const ev of Object.values(VALID)) visit('GetEventsResponse', ev);
  const messages = Object.keys(defs).filter((n) => defs[n].properties);
  t.same(messages.filter((m) => !used.has(m)), [], 'every message is in some example');
});

t.test('protojson also parses JSON names, 32-bit strings, 64-bit numbers, enum numbers, offsets and URL-safe base64; Tetragon writes none of them', async (t) => {
  const parsedOnly: [string, Json, string][] = [
    ['a JSON name', { processExec: { process: { execId: 'x', startTime: '2024-05-06T07:08:09Z' } } },
      'processExec: unknown field "processExec" in GetEventsResponse (the JSON name of "process_exec"; Tetragon writes "process_exec")'],
    ['a uint32 as a decimal string', { process_exec: { process: { pid: '421' } } },
      'process_exec.process.pid: "421" is not a uint32 (Tetragon writes a JSON number)'],
    ['a uint64 as a JSON number', { rate_limit_info: { number_of_dropped_process_events: 12 } },
      'rate_limit_info.number_of_dropped_process_events: 12 is not a uint64 (Tetragon writes a decimal string)'],
    ['an enum by its number', { process_kprobe: { action: 3 } },
      'process_kprobe.action: 3 is not a KprobeAction (Tetragon writes the value name)'],
    ['a timestamp with an offset', { process_exit: { time: '2024-05-06T09:08:09.5+02:00' } },
      'process_exit.time: "2024-05-06T09:08:09.5+02:00" is not a Timestamp (Tetragon writes RFC 3339 in UTC (Z) with 0, 3, 6 or 9 fractional digits)'],
    ['nine fractional digits where three say it', { process_exit: { time: '2024-05-06T07:08:09.120000000Z' } },
      'process_exit.time: "2024-05-06T07:08:09.120000000Z" is not a Timestamp (Tetragon writes RFC 3339 in UTC (Z) with 0, 3, 6 or 9 fractional digits)'],
    ['URL-safe base64 without padding', { process_kprobe: { args: [{ bytes_arg: '-_8' }] } },
      'process_kprobe.args[0].bytes_arg: "-_8" is not a bytes (Tetragon writes standard base64 with padding)'],
  ];
  for (const [what, ev, error] of parsedOnly) {
    t.same(validateTetragonLine(line(ev)), [], `${what} parses`);
    t.same(validateTetragonLine(line(ev), 'written'), [error], `${what} is not what Tetragon writes`);
  }
});

/** The process_kprobe example with one change to its first argument. */
const withArg = (arg: Json): Json => ({ process_kprobe: { ...(VALID.process_kprobe.process_kprobe as Json), args: [arg] }, ...where });

t.test('Tetragon leaves out a field at its default value, except a oneof member or a wrapper; protojson parses either', async (t) => {
  const ev = {
    process_exit: { process: { ...parent, uid: 0, cwd: '', cap: { permitted: ['CAP_CHOWN'], inheritable: [] } }, signal: '', status: 0 },
    ...where, node_labels: {},
  };
  t.same(validateTetragonLine(line(ev)), []);
  t.same(validateTetragonLine(line(ev), 'written'), [
    'process_exit.process.cwd: "" is the default value; Tetragon leaves the field out',
    'process_exit.process.cap.inheritable: an empty list; Tetragon leaves the field out',
    'process_exit.signal: "" is the default value; Tetragon leaves the field out',
    'process_exit.status: 0 is the default value; Tetragon leaves the field out',
    'node_labels: an empty map; Tetragon leaves the field out',
  ], 'uid 0 is a UInt32Value, written when set');
  t.same(validateTetragonLine(line(withArg({ int_arg: 0 })), 'written'), [], 'a oneof member is written at its default value');
});

t.test('lines protojson would reject fail with the path and the reason', async (t) => {
  const invalid: [string, unknown, string[]][] = [
    ['an unknown field', { process_exec: { process: { ...process, exec_ld: 'x' } }, ...where },
      ['process_exec.process.exec_ld: unknown field "exec_ld" in Process (did you mean "exec_id"?)']],
    ['a capability named with a CAP_ prefix the proto does not give it', { process_exec: { process: { cap: { permitted: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE'] } } } },
      ['process_exec.process.cap.permitted[1]: "CAP_DAC_OVERRIDE" is not a CapabilitiesType (did you mean "DAC_OVERRIDE"?)']],
    ['an unknown action', { process_lsm: { action: 'KPROBE_ACTION_DENY' } },
      ['process_lsm.action: "KPROBE_ACTION_DENY" is not a KprobeAction (did you mean "KPROBE_ACTION_SET"?)']],
    ['a word where a uint32 belongs', { process_exit: { status: 'one' } },
      ['process_exit.status: "one" is not a uint32']],
    ['a uint32 out of range', { process_exec: { process: { pid: -1 } } },
      ['process_exec.process.pid: -1 is not a uint32 (out of range 0..4294967295)']],
    ['an int64 as a float', withArg({ long_arg: 1.5 }), ['process_kprobe.args[0].long_arg: 1.5 is not an int64']],
    ['a uint64 past its range', withArg({ size_arg: '18446744073709551616' }),
      ['process_kprobe.args[0].size_arg: "18446744073709551616" is not a uint64 (out of range 0..18446744073709551615)']],
    ['two event keys', { process_exec: { process }, process_exit: { process }, ...where },
      ['line: process_exec and process_exit are both set; they are members of one oneof of GetEventsResponse, and exactly one may be set']],
    ['no event key', where,
      ['line: no event; exactly one of process_exec, process_exit, process_kprobe, process_tracepoint, process_loader, process_uprobe, process_throttle, process_lsm, process_usdt, test, rate_limit_info must be set']],
    ['two members of the arg oneof', withArg({ string_arg: '/etc/shadow', int_arg: 3, label: 'path' }),
      ['process_kprobe.args[0]: string_arg and int_arg are both set; they are members of one oneof of KprobeArgument, and at most one may be set']],
    ['one field spelled twice', { process_exec: { process: { exec_id: 'a', execId: 'a' } } },
      ['process_exec.process: "execId" and "exec_id" are one field spelled twice (JSON name and proto name); protojson rejects the second as a duplicate']],
    ['a wrapper written as an object', { process_exec: { process: { pid: { value: 1 } } } },
      ['process_exec.process.pid: {"value":1} is not a uint32']],
    ['null', { process_exit: { process, signal: null } },
      ['process_exit.signal: null is not a string (Tetragon leaves a field out rather than write null)']],
    ['a list that is not one', { process_kprobe: { args: { string_arg: 'x' } } },
      ['process_kprobe.args: expected a list (repeated field), got {"string_arg":"x"}']],
    ['a message that is not an object', { process_exec: { parent: '/bin/bash' } },
      ['process_exec.parent: expected a Process (a JSON object), got "/bin/bash"']],
    ['a day that does not exist', { process_exit: { time: '2023-02-29T00:00:00Z' } },
      ['process_exit.time: "2023-02-29T00:00:00Z" is not a Timestamp (no such day)']],
    ['an unpaired surrogate', { process_exec: { process: { arguments: 'a\ud800b' } } },
      ['process_exec.process.arguments: "a\\ud800b" is not a string (it holds an unpaired UTF-16 surrogate)']],
    ['base64 with a stray character', withArg({ bytes_arg: 'aGVs*G8=' }), ['process_kprobe.args[0].bytes_arg: "aGVs*G8=" is not a bytes']],
    ['a map with a value that is not a string', { process_exec: { process: { pod: { pod_labels: { app: 1 } } } } },
      ['process_exec.process.pod.pod_labels.app: 1 is not a string']],
  ];
  for (const [what, ev, errors] of invalid) t.same(validateTetragonLine(line(ev)), errors, what);
  t.same(validateTetragonLine('{"process_exec":'), ['line: not JSON (Unexpected end of JSON input)'], 'a line cut short');
});

t.test('the one capability the proto names without its CAP_ prefix is DAC_OVERRIDE', async (t) => {
  const def = TETRAGON_SCHEMA.definitions.CapabilitiesType as { anyOf: { enum?: string[] }[] };
  const names = def.anyOf[0].enum!;
  t.equal(names.length, 41, 'CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40)');
  t.same(names.filter((n) => !n.startsWith('CAP_')), ['DAC_OVERRIDE']);
});

t.test('an export file is checked line by line, bytes included', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-schema-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'events.log');
  const good = line(VALID.process_exit);
  writeFileSync(file, Buffer.concat([
    Buffer.from(`${good}\n${line({ process_exit: { status: 'x' } })}\n`),
    Buffer.from('{"process_exec":{"process":{"binary":"'), Buffer.from([0xff]), Buffer.from('"}}}\n'),
    Buffer.from(`${good}\n`),
  ]));
  t.same(validateExportFile(file), {
    lines: 4,
    failures: [
      { line: 2, errors: ['process_exit.status: "x" is not a uint32'] },
      { line: 3, errors: ['line: not valid UTF-8 (protojson rejects it)'] },
    ],
  });
});
