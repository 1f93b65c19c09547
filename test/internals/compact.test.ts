// Compact lines, event by event, as `tetra getevents -o compact` prints
// them: each row is an event and the line Tetragon's encoder rules give it.
import t from 'tap';
import { compactLine, nanoTime } from '../../exporters/compact.js';
import { ANSI, PLAIN, paletteFor } from '../../exporters/compact-color.js';
import type { KprobeArgument, TetragonEvent, TetragonProcess } from '../../exporters/tetragon.js';
import { CAPABILITIES } from '../../kernel/caps.js';

const T = '2024-05-01T10:00:00Z';
const proc = (binary: string, args?: string, extra: Partial<TetragonProcess> = {}): TetragonProcess =>
  ({ exec_id: 'e', pid: 7, uid: 0, binary, arguments: args, flags: 'execve clone', start_time: T, auid: 0, tid: 7, ...extra });
const curl = proc('/usr/bin/curl', '-s "a b" https://x');
const ev = (body: Partial<TetragonEvent>): TetragonEvent => ({ ...body, node_name: 'node1', time: T }) as TetragonEvent;
const kprobe = (function_name: string, args: KprobeArgument[], p: TetragonProcess = curl): TetragonEvent =>
  ev({ process_kprobe: { process: p, function_name, args, action: 'KPROBE_ACTION_POST', policy_name: 'p' } });
const sock: KprobeArgument = { sock_arg: { family: 'AF_INET', saddr: '10.0.0.1', sport: 40000, daddr: '10.0.0.2', dport: 443 } };
const root = proc('/bin/bash', undefined, { cap: { effective: [...CAPABILITIES.slice(0, 40)] } });

const ROWS: [string, TetragonEvent, string][] = [
  ['exec', ev({ process_exec: { process: curl } }), '🚀 process node1 /usr/bin/curl -s "a b" https://x'],
  ['exec without arguments: the space stays', ev({ process_exec: { process: proc('/bin/true') } }), '🚀 process node1 /bin/true '],
  ['exec in a pod', ev({ process_exec: { process: proc('/bin/ls', '-l', { pod: { namespace: 'shop', name: 'cart-1' } }) } }), '🚀 process shop/cart-1 /bin/ls -l'],
  ['exit with a status', ev({ process_exit: { process: curl, status: 7, time: T } }), '💥 exit    node1 /usr/bin/curl -s "a b" https://x 7'],
  ['exit 0: status left out of the JSON, 0 on the line', ev({ process_exit: { process: proc('/bin/true'), time: T } }), '💥 exit    node1 /bin/true  0'],
  ['exit by a signal', ev({ process_exit: { process: curl, signal: 'SIGKILL', time: T } }), '💥 exit    node1 /usr/bin/curl -s "a b" https://x SIGKILL'],
  ['tcp_connect', kprobe('tcp_connect', [sock]), '🔌 connect node1 /usr/bin/curl tcp 10.0.0.1:40000 -> 10.0.0.2:443'],
  ['tcp_close', kprobe('tcp_close', [sock]), '🧹 close   node1 /usr/bin/curl tcp 10.0.0.1:40000 -> 10.0.0.2:443'],
  ['tcp_sendmsg', kprobe('tcp_sendmsg', [sock, { int_arg: 517 }]), '📤 sendmsg node1 /usr/bin/curl tcp 10.0.0.1:40000 -> 10.0.0.2:443 bytes 517'],
  ['bpf_check', kprobe('bpf_check', [{ bpf_attr_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', ProgName: 'probe', InsnCnt: 12 } }]),
    '🐝 bpf_load node1 /usr/bin/curl BPF_PROG_TYPE_KPROBE probe instruction count 12'],
  ['map create', kprobe('security_bpf_map_alloc', [{ bpf_map_arg: { MapType: 'BPF_MAP_TYPE_HASH', MapName: 'm', KeySize: 4, ValueSize: 8, MaxEntries: 1024 } }]),
    '🗺 bpf_map_create node1 /usr/bin/curl BPF_MAP_TYPE_HASH m key size 4 value size 8 max entries 1024'],
  ['perf event', kprobe('security_perf_event_alloc', [{ perf_event_arg: { Type: 'kprobe', KprobeFunc: 'do_sys_open' } }]), '🐝 perf_event_alloc node1 /usr/bin/curl kprobe do_sys_open'],
  ['mmap', kprobe('security_mmap_file', [{ file_arg: { path: '/lib/x.so' } }, { uint_arg: 5 }]), '📝 mmap-rx node1 /usr/bin/curl /lib/x.so'],
  ['file_truncate', kprobe('security_path_truncate', [{ path_arg: { path: '/etc/passwd' } }]), '📝 truncate node1 /usr/bin/curl /etc/passwd'],
  ['read by security_file_permission', kprobe('security_file_permission', [{ file_arg: { path: '/etc/shadow' } }, { int_arg: 4 }]), '📚 read    node1 /usr/bin/curl /etc/shadow'],
  ['openat', kprobe('__x64_sys_openat', [{ int_arg: -100 }, { string_arg: '/etc/hosts' }]), '📬️ openat  node1 /usr/bin/curl /etc/hosts'],
  ['another function', kprobe('security_bprm_check', []), '❓ syscall node1 /usr/bin/curl security_bprm_check'],
  ['raw syscall', ev({ process_tracepoint: { process: curl, subsys: 'raw_syscalls', event: 'sys_enter', args: [{ long_arg: '257' }], policy_name: 'p', action: 'KPROBE_ACTION_POST' } }),
    '☎  syscall node1 /usr/bin/curl openat'],
  ['a tracepoint', ev({ process_tracepoint: { process: curl, subsys: 'syscalls', event: 'sys_enter_close', args: [], policy_name: 'p', action: 'KPROBE_ACTION_POST' } }),
    '⁉️ tracepoint node1 /usr/bin/curl syscalls sys_enter_close'],
];

t.test('each event kind gives the line of Tetragon\'s encoder', async (t) => {
  for (const [name, event, line] of ROWS) t.equal(compactLine(event), line, name);
});

t.test('the capability trailer: a process with more than 21 effective capabilities, right-aligned to byte 120', async (t) => {
  const line = compactLine(ev({ process_exec: { process: root } }))!;
  const head = '🚀 process node1 /bin/bash ';
  t.ok(line.startsWith(head));
  t.ok(line.endsWith('🛑 CAP_SYS_ADMIN'));
  const width = 120 - Buffer.byteLength(head);
  t.equal([...line.slice(head.length + 1)].length, width, 'the trailer fills the width, counted in characters');
  const few = proc('/bin/x', undefined, { cap: { effective: ['CAP_SYS_ADMIN'] } });
  t.equal(compactLine(ev({ process_exec: { process: few } })), '🚀 process node1 /bin/x ', 'the encoder reads the list by index: one capability is not enough');
});

t.test("colours as Tetragon's encoder paints them; the painted, empty capability trailer pads the line", async (t) => {
  const line = compactLine(ev({ process_exit: { process: curl, status: 7, time: T } }), { palette: ANSI })!;
  const head = '\x1b[34m💥 exit   \x1b[0m \x1b[32mnode1\x1b[0m \x1b[35m/usr/bin/curl\x1b[0m \x1b[36m-s "a b" https://x\x1b[0m \x1b[31m7\x1b[0m';
  t.ok(line.startsWith(`${head} `), 'label blue, node green, binary magenta, arguments cyan, status red');
  t.ok(line.endsWith(' \x1b[35m\x1b[0m'));
  t.equal(Buffer.byteLength(line.slice(0, -'\x1b[35m\x1b[0m'.length).trimEnd()), Buffer.byteLength(head));
  t.equal(line.length - head.length - 1, 120 - Buffer.byteLength(head), 'padded to byte 120, escapes counted, as Go counts them');
  t.equal(compactLine(kprobe('__x64_sys_openat', [{ int_arg: 1 }])!, { palette: ANSI }),
    '\x1b[34m📬️ openat \x1b[0m \x1b[32mnode1\x1b[0m \x1b[35m/usr/bin/curl\x1b[0m  ' + ' '.repeat(120 - Buffer.byteLength('\x1b[34m📬️ openat \x1b[0m \x1b[32mnode1\x1b[0m \x1b[35m/usr/bin/curl\x1b[0m ') - '\x1b[35m\x1b[0m'.length) + '\x1b[35m\x1b[0m',
    'an argument the event lacks is left empty, not painted');
});

t.test('auto colours a terminal only, and never with NO_COLOR or TERM=dumb', async (t) => {
  t.equal(paletteFor('auto', { isTTY: true }, {}), ANSI);
  t.equal(paletteFor('auto', { isTTY: false }, {}), PLAIN);
  t.equal(paletteFor('auto', { isTTY: true }, { NO_COLOR: '' }), PLAIN);
  t.equal(paletteFor('auto', { isTTY: true }, { TERM: 'dumb' }), PLAIN);
  t.equal(paletteFor('always', {}, { NO_COLOR: '1' }), ANSI);
  t.equal(paletteFor('never', { isTTY: true }, {}), PLAIN);
});

t.test('--timestamps: the time in UTC with nine fraction digits first', async (t) => {
  t.equal(compactLine(ev({ process_exec: { process: curl } }), { timestamps: true }), `2024-05-01T10:00:00.000000000Z 🚀 process node1 /usr/bin/curl -s "a b" https://x`);
  t.equal(nanoTime('2024-05-01T10:00:00.123456Z'), '2024-05-01T10:00:00.123456000Z');
  t.equal(nanoTime('2024-05-01T10:00:00.123456789123Z'), '2024-05-01T10:00:00.123456789Z');
  t.equal(nanoTime('2024-05-01T12:30:00.5+02:30'), '2024-05-01T10:00:00.500000000Z', 'an offset is turned to UTC');
});
