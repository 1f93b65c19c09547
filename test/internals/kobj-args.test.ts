// Kernel-object args (agent/enrich/kobj-args.ts): record bytes written
// field by field at the offsets of events.h become Tetragon's arg shapes,
// enum values by name or, without one, by number, and each event line
// passes Tetragon's event schema in the form Tetragon writes.
import t from 'tap';
import { kprobeArgument } from '../../agent/enrich/policy-events.js';
import type { ArgPlan } from '../../policies/compiler/plan.js';
import type { KprobeArgument } from '../../exporters/tetragon.js';
import {
  vigil_bpf_map_arg as BM, vigil_bpf_prog_arg as BP, vigil_module_arg as MA, vigil_module_flag as MF,
  vigil_perf_event_arg as PE, vigil_userns as UN,
} from '../../kernel/abi/layouts.generated.js';
import { validateTetragonLine } from '../lib/tetragon-schema.js';

const arg = (type: ArgPlan['type'], bytes: Buffer): KprobeArgument => kprobeArgument({ index: 0, type }, { bytes, flags: 0 });
const u32s = (size: number, fields: [number, number][]): Buffer => {
  const b = Buffer.alloc(size);
  for (const [at, v] of fields) b.writeUInt32LE(v, at);
  return b;
};
const line = (args: KprobeArgument[]): string => JSON.stringify({
  process_kprobe: { process: { pid: 1, start_time: '2024-01-01T00:00:00Z' }, function_name: 'f', args, action: 'KPROBE_ACTION_POST', policy_name: 'p' },
  node_name: 'n', time: '2024-01-01T00:00:00Z',
});

t.test('bpf_attr and bpf_prog: type by name, count, the name up to its NUL', async (t) => {
  const b = u32s(BP.sizeof, [[BP.offsetof.prog_type, 2], [BP.offsetof.insn_cnt, 17]]);
  b.write('kprobe_open\0junk', BP.offsetof.name);
  t.same(arg('bpf_attr', b), { bpf_attr_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', InsnCnt: 17, ProgName: 'kprobe_open' } });
  t.same(arg('bpf_prog', b), { bpf_prog_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', InsnCnt: 17, ProgName: 'kprobe_open' } });
  const unknown = u32s(BP.sizeof, [[BP.offsetof.prog_type, 99]]);
  t.same(JSON.parse(JSON.stringify(arg('bpf_prog', unknown))), { bpf_prog_arg: { ProgType: '99' } }, 'a type without a name, its number; zero and empty left out');
  t.same(validateTetragonLine(line([arg('bpf_attr', b), arg('bpf_prog', unknown)]), 'written'), []);
});

t.test('bpf_map: every field at its offset', async (t) => {
  const b = u32s(BM.sizeof, [[BM.offsetof.map_type, 9], [BM.offsetof.key_size, 4], [BM.offsetof.value_size, 24], [BM.offsetof.max_entries, 64]]);
  b.write('vigil_kobj_lru', BM.offsetof.name);
  t.same(arg('bpf_map', b), { bpf_map_arg: { MapType: 'BPF_MAP_TYPE_LRU_HASH', KeySize: 4, ValueSize: 24, MaxEntries: 64, MapName: 'vigil_kobj_lru' } });
  t.same(validateTetragonLine(line([arg('bpf_map', b)]), 'written'), []);
});

t.test('perf_event: 64-bit fields as strings, a fixed PMU by name', async (t) => {
  const b = u32s(PE.sizeof, [[PE.offsetof.type, 2]]);
  b.writeBigUInt64LE(0x1234n, PE.offsetof.config);
  b.writeBigUInt64LE(16n, PE.offsetof.probe_offset);
  b.write('vfs_read', PE.offsetof.kprobe_func);
  const out = arg('perf_event', b);
  t.same(out, { perf_event_arg: { KprobeFunc: 'vfs_read', Type: 'PERF_TYPE_TRACEPOINT', Config: '4660', ProbeOffset: '16' } });
  t.same(validateTetragonLine(line([out]), 'written'), []);
});

t.test('user_namespace: the initial one is the host\'s', async (t) => {
  const host = u32s(UN.sizeof, [[UN.offsetof.level, 0], [UN.offsetof.uid, 0], [UN.offsetof.gid, 0], [UN.offsetof.inum, 4026531837]]);
  const nested = u32s(UN.sizeof, [[UN.offsetof.level, 2], [UN.offsetof.uid, 1000], [UN.offsetof.gid, 100], [UN.offsetof.inum, 4026532999]]);
  t.same(arg('user_namespace', host), { user_ns_arg: { level: 0, uid: 0, gid: 0, ns: { inum: 4026531837, is_host: true } } });
  t.same(JSON.parse(JSON.stringify(arg('user_namespace', nested))), { user_ns_arg: { level: 2, uid: 1000, gid: 100, ns: { inum: 4026532999 } } });
  t.same(validateTetragonLine(line([arg('user_namespace', host), arg('user_namespace', nested)]), 'written'), []);
});

t.test('module and load_info: taints by name, signature_ok only where known', async (t) => {
  const b = Buffer.alloc(MA.sizeof);
  b.writeBigUInt64LE((1n << 13n) | (1n << 12n) | (1n << 9n), MA.offsetof.taints); // bit 9 (TAINT_WARN) is no module's
  b.writeUInt8(MF.VIGIL_MODULE_SIG_KNOWN, MA.offsetof.flags);
  b.write('crc7', MA.offsetof.name);
  t.same(arg('module', b), { module_arg: { name: 'crc7', signature_ok: false, tainted: ['TAINT_OUT_OF_TREE_MODULE', 'TAINT_UNSIGNED_MODULE'] } });
  const unknown = Buffer.alloc(MA.sizeof);
  unknown.writeUInt8(1, MA.offsetof.sig_ok);
  unknown.write('m', MA.offsetof.name);
  t.same(JSON.parse(JSON.stringify(arg('load_info', unknown))), { module_arg: { name: 'm' } }, 'sig_ok not read: left out');
  t.same(validateTetragonLine(line([arg('module', b), arg('load_info', unknown)]), 'written'), []);
});

t.test('net_device, bpf_cmd, data_loc; a short record is an empty message, not a crash', async (t) => {
  t.same(arg('net_device', Buffer.from('eth0')), { net_dev_arg: { name: 'eth0' } });
  const cmd = (v: number) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return arg('bpf_cmd', b); };
  t.same(cmd(5), { bpf_cmd_arg: 'BPF_PROG_LOAD' });
  t.same(cmd(36), { bpf_cmd_arg: 'BPF_TOKEN_CREATE' });
  t.same(cmd(77), { bpf_cmd_arg: 77 });
  t.same(arg('data_loc', Buffer.from('/a/b')), { string_arg: '/a/b' });
  t.same(arg('bpf_map', Buffer.alloc(3)), { bpf_map_arg: {} });
  t.same(validateTetragonLine(line([cmd(5), arg('net_device', Buffer.from('lo')), arg('bpf_map', Buffer.alloc(3))]), 'written'), []);
  // A command newer than Tetragon's BpfCmd: protojson writes an unknown enum value as its number.
  t.same(validateTetragonLine(line([cmd(77)]), 'parsed'), []);
});
