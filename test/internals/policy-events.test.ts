// Generic hook records: decoded byte by byte, turned into Tetragon's
// process_kprobe / process_tracepoint / process_lsm, printed compact.
import t from 'tap';
import { RecordDecoder } from '../../agent/decode/decode.js';
import * as L from '../../kernel/abi/layouts.generated.js';
import { ProcessCache } from '../../agent/process/cache.js';
import { policyEvent, type PolicyHook } from '../../agent/enrich/policy-events.js';
import { compactLine } from '../../exporters/compact.js';
import { eventJson } from '../../exporters/json.js';
import type { GenericRecord } from '../../agent/decode/records.js';
import type { HookPlan } from '../../policies/compiler/plan.js';

const G = L.vigil_msg_generic;
const int = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
};

function genericRecord(args: Buffer[], flags: number[] = []): Buffer {
  const b = Buffer.alloc(G.sizeof + args.reduce((n, a) => n + a.length, 0));
  b.writeUInt8(L.vigil_op.VIGIL_OP_GENERIC, G.offsetof.hdr + L.vigil_msg_header.offsetof.op);
  b.writeUInt16LE(b.length, G.offsetof.hdr + L.vigil_msg_header.offsetof.size);
  b.writeBigUInt64LE(5000n, G.offsetof.hdr + L.vigil_msg_header.offsetof.ktime);
  b.writeUInt32LE(42, G.offsetof.proc + L.vigil_process_id.offsetof.pid);
  b.writeBigUInt64LE(1000n, G.offsetof.proc + L.vigil_process_id.offsetof.ktime);
  b.writeUInt32LE(43, G.offsetof.tid);
  b.writeUInt32LE(7, G.offsetof.hook_id);
  b.writeBigInt64LE(-1n, G.offsetof.ret);
  b.writeUInt8(L.vigil_action.VIGIL_ACTION_OVERRIDE, G.offsetof.action);
  b.writeUInt8(2, G.offsetof.selector);
  b.writeUInt8(args.length, G.offsetof.arg_count);
  args.forEach((a, i) => b.writeUInt16LE(a.length, G.offsetof.arg_len + 2 * i));
  flags.forEach((f, i) => b.writeUInt8(f, G.offsetof.arg_flags + i));
  Buffer.concat(args).copy(b, G.sizeof);
  return b;
}

const view = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);
const decode = (b: Buffer, len = b.length): GenericRecord | undefined => new RecordDecoder().decode(view(b), 0, len) as GenericRecord | undefined;

t.test('a generic record decodes to its fields and argument bytes', async (t) => {
  const rec = decode(genericRecord([int(-100n), Buffer.from('/etc/passwd'), int(0x241n)], [0, L.vigil_arg_flag.VIGIL_ARG_TRUNCATED]))!;
  t.match(rec, { op: 'generic', ktime: 5000n, proc: { pid: 42, ktime: 1000n }, tid: 43, hookId: 7, ret: -1n, action: 4, selector: 2 });
  t.equal(rec.args.length, 3);
  t.equal(rec.args[1].bytes.toString(), '/etc/passwd');
  t.equal(rec.args[1].flags, L.vigil_arg_flag.VIGIL_ARG_TRUNCATED);
  t.equal(rec.args[2].bytes.readBigInt64LE(), 0x241n);
});

t.test('a generic record shorter than its fixed part is malformed; a cut one keeps what it has', async (t) => {
  const d = new RecordDecoder();
  const b = genericRecord([Buffer.from('abcdef')]);
  t.equal(d.decode(view(b), 0, G.sizeof - 1), undefined);
  t.equal(d.malformed.count, 1);
  t.equal(decode(b, b.length - 2)!.args[0].bytes.toString(), 'abcd');
});

const cache = new ProcessCache('node1');
const creds = { uid: 0, gid: 0, suid: 0, sgid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0 };
cache.addImage({
  proc: { pid: 42, ktime: 1000n }, tid: 42, auid: 0, nspid: 42, flags: 1, creds, caps: { permitted: 0n, effective: 0n, inheritable: 0n },
  cgroupId: 0n, binary: '/usr/bin/cat', args: ['cat', '/etc/passwd'], cwd: '/',
});

const openat: HookPlan = {
  policyName: 'files', hookIndex: 0, kind: 'kprobe', target: { function: 'sys_openat' }, syscall: true,
  args: [{ index: 0, type: 'int' }, { index: 1, type: 'string', label: 'path' }, { index: 2, type: 'uint64' }],
  selectors: [], message: 'opened', tags: ['fs'],
};

t.test('a kprobe record becomes process_kprobe with Tetragon argument shapes', async (t) => {
  const hook: PolicyHook = { plan: openat, functionName: '__x64_sys_openat' };
  const ev = policyEvent(cache, hook, decode(genericRecord([int(-100n), Buffer.from('/etc/passwd'), int(-1n)]))!);
  const k = ev.process_kprobe!;
  t.equal(k.function_name, '__x64_sys_openat');
  t.same(k.args, [{ int_arg: -100 }, { string_arg: '/etc/passwd', label: 'path' }, { size_arg: '18446744073709551615' }]);
  t.equal(k.action, 'KPROBE_ACTION_OVERRIDE');
  t.equal(k.policy_name, 'files');
  t.equal(k.message, 'opened');
  t.same(k.tags, ['fs']);
  t.equal(k.process.pid, 42);
  t.equal((k.process as { tid: number }).tid, 43, 'the thread that hit the hook');
  t.equal(ev.node_name, 'node1');
  t.equal(eventJson(ev), JSON.stringify(ev));
  t.match(eventJson(ev), /^\{"process_kprobe":\{"process":\{.*\},"function_name":"__x64_sys_openat","args":\[\{"int_arg":-100\},\{"string_arg":"\/etc\/passwd","label":"path"\}/);
  t.equal(compactLine(ev), '📬️ openat  node1 /usr/bin/cat /etc/passwd');
});

t.test('an unknown process is reported by pid and start time only', async (t) => {
  const b = genericRecord([int(1n), Buffer.from('x'), int(0n)]);
  b.writeUInt32LE(99, G.offsetof.proc);
  const k = policyEvent(cache, { plan: openat, functionName: '__x64_sys_openat' }, decode(b)!).process_kprobe!;
  t.same(Object.keys(k.process), ['pid', 'start_time']);
  t.equal(k.parent, undefined);
});

t.test('tracepoint and LSM records, and file arguments', async (t) => {
  const tp: HookPlan = { policyName: 'p', hookIndex: 1, kind: 'tracepoint', target: { subsystem: 'syscalls', event: 'sys_enter_close' }, syscall: false, args: [{ index: 5, type: 'int64' }], selectors: [] };
  const tev = policyEvent(cache, { plan: tp, functionName: '' }, decode(genericRecord([int(-3n)]))!);
  t.match(tev.process_tracepoint, { subsys: 'syscalls', event: 'sys_enter_close', args: [{ long_arg: '-3' }], policy_name: 'p' });
  t.equal(compactLine(tev), '⁉️ tracepoint node1 /usr/bin/cat syscalls sys_enter_close');

  const lsm: HookPlan = { policyName: 'p', hookIndex: 0, kind: 'lsm', target: { hook: 'file_open' }, syscall: false, args: [{ index: 0, type: 'file' }], selectors: [] };
  const lev = policyEvent(cache, { plan: lsm, functionName: 'file_open' }, decode(genericRecord([Buffer.from('/etc/shadow')]))!);
  t.match(lev.process_lsm, { function_name: 'file_open', args: [{ file_arg: { path: '/etc/shadow' } }], action: 'KPROBE_ACTION_OVERRIDE' });
  t.equal(compactLine(lev), '🔒 LSM     node1 /usr/bin/cat file_open');

  const fn: HookPlan = { ...lsm, kind: 'kprobe', target: { function: 'security_file_open' } };
  t.equal(compactLine(policyEvent(cache, { plan: fn, functionName: 'security_file_open' }, decode(genericRecord([Buffer.from('/x')]))!)),
    '❓ syscall node1 /usr/bin/cat security_file_open');
});
