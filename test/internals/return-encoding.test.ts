// Return probes, buffers and credentials in the hook configuration
// (policies/compiler/encode.ts), byte by byte at the documented offsets;
// and the Tetragon shapes of the new argument types (agent/enrich/arg-formats.ts).
import t from 'tap';
import { encodeHook, type EncodeContext } from '../../policies/compiler/encode.js';
import type { HookPlan, SelectorPlan } from '../../policies/compiler/plan.js';
import { bytesArgument, capabilityArgument, capsHex, credArgument } from '../../agent/enrich/arg-formats.js';
import { kprobeArgument } from '../../agent/enrich/policy-events.js';

const choice: EncodeContext['choice'] = { mechanism: 'tracepoint', syscall: true };
const ctx: EncodeContext = { choice };
const sel = (s: Partial<SelectorPlan>): SelectorPlan => ({ matchArgs: [], matchPIDs: [], matchBinaries: [], matchActions: [], ...s });

// args at 16 + 8i (+0 kind, +1 size, +2 flags, +3 index, +6 size_arg); selector 0 at 80,
// its arg filters at 96 + 16j (+0 arg, +1 op, +2 id, +8 value).
const ARG = (i: number): number => 16 + 8 * i;
const FILTER = (j: number): number => 80 + 16 + 16 * j;

const readPlan: HookPlan = {
  policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: 'sys_read' }, syscall: true,
  args: [{ index: 0, type: 'int' }, { index: 1, type: 'char_buf', returnCopy: true }, { index: 2, type: 'size_t' }],
  returnArg: { index: 0, type: 'int' },
  selectors: [sel({ matchArgs: [{ index: 0, operator: 'Equal', values: ['3'] }], matchReturnArgs: [{ index: 0, operator: 'GT', values: ['0'] }] })],
};

t.test('a return probe: the return value is args[nargs], and matchReturnArgs follow matchArgs on it', async (t) => {
  const b = encodeHook(readPlan, ctx).config;
  t.equal(b.readUInt8(8), 3, 'nargs counts the args, not the return value');
  t.same([...b.subarray(ARG(1), ARG(1) + 8)], [20, 8, 32, 1, 0, 0, 0, 0], 'char_buf, returnCopy, size_arg 0: the return value');
  t.same([...b.subarray(ARG(3), ARG(3) + 8)], [1, 4, 1, 0, 0, 0, 0, 0], 'the return value: int, 4 bytes, signed');
  t.equal(b.readUInt8(80), 2, 'one matchArgs and one matchReturnArgs filter');
  t.same([b.readUInt8(FILTER(0)), b.readUInt8(FILTER(0) + 1)], [0, 1], 'matchArgs: arg 0, Equal');
  t.same([b.readUInt8(FILTER(1)), b.readUInt8(FILTER(1) + 1)], [3, 7], 'matchReturnArgs: arg 3 (the return value), GT');
  t.equal(b.readBigUInt64LE(FILTER(1) + 8), 0n);
});

t.test('char_buf and char_iovec take their size from sizeArgIndex (index + 1), as a position in args', async (t) => {
  const plan: HookPlan = {
    policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: 'sys_writev' }, syscall: true,
    args: [{ index: 2, type: 'int' }, { index: 1, type: 'char_iovec', sizeArgIndex: 3, maxData: true }], selectors: [],
  };
  const b = encodeHook(plan, { ...ctx, choice: { ...choice, mechanism: 'kprobe' } }).config;
  t.same([...b.subarray(ARG(1), ARG(1) + 8)], [21, 8, 64, 1, 0, 0, 1, 0], 'char_iovec, maxData, its count at position 0 (+1)');
  t.throws(() => encodeHook({ ...plan, args: [plan.args[1]] }, ctx), { code: 'VIGIL_POLICY_INVALID', message: /sizeArgIndex 3 names arg index 2, which the hook does not declare/ });
  t.throws(() => encodeHook({ ...plan, args: [{ index: 1, type: 'char_buf' }] }, ctx), { message: /char_buf needs sizeArgIndex/ });
  t.throws(() => encodeHook({ ...plan, args: [{ index: 1, type: 'char_buf', returnCopy: true }] }, ctx), { message: /not a return probe/ });
  t.throws(() => encodeHook({ ...plan, selectors: [sel({ matchArgs: [{ index: 1, operator: 'Equal', values: ['x'] }] })] }, ctx),
    { code: 'VIGIL_NOT_SUPPORTED', message: /filters on char_iovec args/ });
});

t.test('CapabilitiesGained on a cred arg is one inline mask; other operators on creds are refused', async (t) => {
  const plan: HookPlan = {
    policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: 'commit_creds' }, syscall: false,
    args: [{ index: 0, type: 'cred' }],
    selectors: [sel({ matchArgs: [{ index: 0, operator: 'CapabilitiesGained', values: ['CAP_SYS_ADMIN', 'CAP_BPF', '0'] }] })],
  };
  const b = encodeHook(plan, { ...ctx, choice: { ...choice, mechanism: 'kprobe', syscall: false } }).config;
  t.same([...b.subarray(ARG(0), ARG(0) + 4)], [22, 8, 0, 0], 'cred');
  t.same([b.readUInt8(FILTER(0)), b.readUInt8(FILTER(0) + 1)], [0, 60], 'CAPS_GAINED');
  t.equal(b.readBigUInt64LE(FILTER(0) + 8), (1n << 21n) | (1n << 39n) | 1n);
  t.throws(() => encodeHook({ ...plan, selectors: [sel({ matchArgs: [{ index: 0, operator: 'Equal', values: ['0'] }] })] }, ctx), { message: /takes only CapabilitiesGained/ });
  t.throws(() => encodeHook({ ...plan, selectors: [sel({ matchArgs: [{ index: 0, operator: 'CapabilitiesGained', values: ['CAP_NOPE'] }] })] }, ctx), { message: /not a capability/ });
});

t.test('a return probe takes Override (it runs at entry) and at most 7 args', async (t) => {
  t.doesNotThrow(() => encodeHook({ ...readPlan, selectors: [sel({ matchActions: [{ action: 'Override', argError: -1 }] })] }, ctx));
  const many = Array.from({ length: 8 }, (_, i) => ({ index: i % 6, type: 'int' as const }));
  t.throws(() => encodeHook({ ...readPlan, args: many, selectors: [] }, ctx), { message: /8 args with a returnArg, at most 7/ });
});

t.test('buffers: bytes_arg in base64, truncated_bytes_arg with orig_size when cut', async (t) => {
  const rec = (size: number, data: string, flags = 0) => {
    const b = Buffer.alloc(8 + data.length);
    b.writeBigUInt64LE(BigInt(size));
    b.write(data, 8);
    return { bytes: b, flags };
  };
  t.same(bytesArgument(rec(5, 'hello')), { bytes_arg: 'aGVsbG8=' });
  t.same(bytesArgument(rec(9, 'hello', 1)), { truncated_bytes_arg: { bytes_arg: 'aGVsbG8=', orig_size: '9' } });
  t.same(kprobeArgument({ index: 1, type: 'char_buf', label: 'buf' }, rec(0, '')), { bytes_arg: '', label: 'buf' });
});

t.test('cred: process_credentials_arg with capability names, securebits and the user namespace', async (t) => {
  const b = Buffer.alloc(80);
  [1000, 1001, 1002, 1003, 0, 1005, 0, 1007].forEach((v, i) => b.writeUInt32LE(v, 4 * i)); // uid gid suid sgid euid egid fsuid fsgid
  b.writeBigUInt64LE((1n << 21n) | 1n, 32); // permitted
  b.writeBigUInt64LE(1n << 21n, 40); // effective
  b.writeUInt32LE(0x11, 56); // securebits: NoRoot, KeepCaps
  b.writeInt32LE(0, 60);
  b.writeUInt32LE(4026531837, 72);
  t.same(credArgument({ bytes: b, flags: 0 }), {
    process_credentials_arg: {
      uid: 1000, gid: 1001, euid: 0, egid: 1005, suid: 1002, sgid: 1003, fsuid: 0, fsgid: 1007,
      securebits: ['SecBitNoRoot', 'SecBitKeepCaps'],
      caps: { permitted: ['CAP_CHOWN', 'CAP_SYS_ADMIN'], effective: ['CAP_SYS_ADMIN'], inheritable: undefined },
      user_ns: { level: 0, uid: 0, gid: 0, ns: { inum: 4026531837, is_host: true } },
    },
  });
});

t.test('capabilities: capability_arg by name, capability sets as 16 hex digits', async (t) => {
  t.same(capabilityArgument(21), { capability_arg: { value: 21, name: 'CAP_SYS_ADMIN' } });
  t.same(capabilityArgument(99), { capability_arg: { value: 99 } });
  t.equal(capsHex(0x1ffffffffffn), '000001ffffffffff');
  const v = Buffer.alloc(8);
  v.writeBigUInt64LE(0x3n);
  t.same(kprobeArgument({ index: 0, type: 'kernel_cap_t' }, { bytes: v, flags: 0 }), { kernel_cap_t_arg: '0000000000000003' });
  t.same(kprobeArgument({ index: 0, type: 'cap_effective' }, { bytes: v, flags: 0 }), { cap_effective_arg: '0000000000000003' });
});

t.test('lint: a socket returnArgAction and a char_buf without its size are errors naming the field; Override on a return probe is not', async (t) => {
  const { checkSemantics } = await import('../../policies/validate/semantic.js');
  const policy = {
    apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: 'p' },
    spec: {
      kprobes: [{
        call: 'sys_read', return: true, returnArg: { index: 0, type: 'int' }, returnArgAction: 'TrackSock',
        args: [{ index: 1, type: 'char_buf' }, { index: 3, type: 'char_iovec', sizeArgIndex: 9 }],
        selectors: [{ matchActions: [{ action: 'Override', argError: -1 }] }],
      }],
    },
  } as const;
  const found = checkSemantics(policy as never).map((f) => `${f.path.join('.')}: ${f.message}`);
  t.match(found.join('\n'), /spec\.kprobes\.0\.returnArgAction: returnArgAction TrackSock is not supported by Vigil: sockets are not tracked/);
  t.notMatch(found.join('\n'), /matchActions\.0\.action/, 'matchActions run at entry, where Override can act');
  t.match(found.join('\n'), /spec\.kprobes\.0\.args\.0\.type: char_buf needs sizeArgIndex/);
  t.match(found.join('\n'), /spec\.kprobes\.0\.args\.1\.sizeArgIndex: sizeArgIndex 9 names arg index 8/);
  const post = { ...policy, spec: { kprobes: [{ ...policy.spec.kprobes[0], returnArgAction: 'Post', args: [], selectors: [] }] } };
  t.same(checkSemantics(post as never).filter((f) => (f.severity ?? 'error') === 'error'), [], 'returnArgAction Post is what a return probe does');
});
