// The hook configuration and selector format (policies/compiler/encode.ts),
// checked byte by byte against buffers written out field by field at the
// offsets its comment documents.
import t from 'tap';
import { bindHook, encodeHook, type EncodeContext } from '../../policies/compiler/encode.js';
import type { HookPlan } from '../../policies/compiler/plan.js';

const choice = (c: Partial<EncodeContext['choice']>): EncodeContext['choice'] => ({ mechanism: 'kprobe', syscall: true, ...c });

const plan: HookPlan = {
  policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: 'sys_openat' }, syscall: true,
  args: [{ index: 0, type: 'int' }, { index: 1, type: 'string' }, { index: 2, type: 'uint64' }],
  selectors: [
    {
      matchArgs: [{ index: 1, operator: 'Prefix', values: ['/tmp/'] }, { index: 0, operator: 'Equal', values: ['-100', '3'] }],
      matchPIDs: [{ operator: 'NotIn', values: [1, 2], followForks: true, isNamespacePID: false }],
      matchBinaries: [{ operator: 'In', values: ['/bin/cat'] }],
      matchActions: [{ action: 'Sigkill' }],
    },
    {
      matchArgs: [
        { index: 1, operator: 'Postfix', values: ['.so'] },
        { index: 2, operator: 'Mask', values: ['0x1', '0x2'] },
        { index: 0, operator: 'GT', values: ['5', '-7'] },
        { index: 2, operator: 'LT', values: ['1', '18446744073709551615'] },
      ],
      matchPIDs: [],
      matchBinaries: [],
      matchActions: [{ action: 'NoPost' }, { action: 'Signal', argSig: 10 }, { action: 'Override', argError: -1 }, { action: 'Post', rateLimit: '30s', rateLimitScope: 'process' }],
    },
  ],
};
const ctx: EncodeContext = { choice: choice({ mechanism: 'fmod_ret' }) };

// The documented offsets: args at 16 + 8i; selector s at 80 + 232s; in a
// selector, arg filter j at +16 + 16j (value at +8), pid filter j at
// +144 + 4j, binary filter j at +160 + 4j, capability filter j at
// +176 + 16j, action at +208.
const ARG = (i: number): number => 16 + 8 * i;
const SEL = (s: number): number => 80 + 232 * s;
const AF = (s: number, j: number): number => SEL(s) + 16 + 16 * j;
const PF = (s: number, j: number): number => SEL(s) + 144 + 4 * j;
const BF = (s: number, j: number): number => SEL(s) + 160 + 4 * j;
const CF = (s: number, j: number): number => SEL(s) + 176 + 16 * j;
const ACT = (s: number): number => SEL(s) + 208;

t.test('struct vigil_hook_config, field by field', async (t) => {
  const e = encodeHook(plan, ctx);
  const x = Buffer.alloc(15456);
  x.writeUInt32LE(7, 0); // hook_id
  x.writeUInt32LE(3, 4); // slot
  x.writeUInt8(3, 8); // nargs
  x.writeUInt8(2, 9); // nselectors
  x.writeUInt8(1, 10); // syscall
  // args: kind, size, flags, index, u16 offset
  x.set([1, 4, 1, 0], ARG(0)); // int: 4 bytes, signed
  x.set([2, 8, 2, 1], ARG(1)); // string: user memory
  x.set([1, 8, 0, 2], ARG(2)); // uint64
  // selectors[0]
  x.set([2, 1, 1], SEL(0)); // nargs, npids, nbins
  x.set([1, 3, 1, 0], AF(0, 0)); // arg 1, PREFIX, id 1 (values in vigil_str_prefix)
  x.set([0, 1, 2, 0], AF(0, 1)); // arg 0, EQ, id 2 (values in vigil_int_eq)
  x.set([2, 1, 3, 0], PF(0, 0)); // NEQ, followForks, id 3
  x.set([1, 0, 4, 0], BF(0, 0)); // EQ, id 4
  x.set([2, 1, 9, 0], ACT(0)); // sigkill, post, SIGKILL, no override
  // selectors[1]
  x.set([4, 0, 0], SEL(1));
  x.set([1, 5, 5, 0], AF(1, 0)); // arg 1, POSTFIX, id 5
  x.set([2, 9, 0, 0], AF(1, 1)); // arg 2, MASK: 0x1 | 0x2
  x.writeBigUInt64LE(3n, AF(1, 1) + 8);
  x.set([0, 7, 0, 0], AF(1, 2)); // arg 0, GT: the smallest, signed
  x.writeBigInt64LE(-7n, AF(1, 2) + 8);
  x.set([2, 8, 0, 0], AF(1, 3)); // arg 2, LT: the largest, unsigned
  x.writeBigUInt64LE(0xffffffffffffffffn, AF(1, 3) + 8);
  x.set([4, 0, 10, 1], ACT(1)); // override, NoPost, SIGUSR1, override
  x.writeInt32LE(-1, ACT(1) + 4);
  x.writeBigUInt64LE(30_000_000_000n, ACT(1) + 8); // rate_ns
  x.writeUInt8(1, ACT(1) + 16); // rate_scope: process
  const config = bindHook(e, { hookId: 7, slot: 3 });
  t.equal(config.length, x.length, 'sizeof(struct vigil_hook_config)');
  const diff = x.findIndex((b, i) => config[i] !== b);
  t.equal(diff, -1, diff < 0 ? 'every byte as documented' : `byte ${diff}: ${config[diff]} != ${x[diff]}`);
  t.equal(e.config.readUInt32LE(0) + e.config.readUInt32LE(4), 0, 'the hook id and slot are the agent\'s to write');
});

t.test('fail-closed (spec.options) is byte 11; without it, 0', async (t) => {
  t.equal(encodeHook({ ...plan, failClosed: true }, ctx).config[11], 1);
  t.equal(encodeHook(plan, ctx).config[11], 0);
});

t.test('a policy limited to pods is byte 12 (scoped), and only that byte; 13 to 15 stay zero', async (t) => {
  const scoped = encodeHook({ ...plan, scope: { namespace: 'web', podSelector: { matchLabels: { app: 'a' } } } }, ctx).config;
  const host = encodeHook(plan, ctx).config;
  t.equal(scoped[12], 1, 'scoped');
  t.equal(host[12], 0, 'host-wide');
  t.same([...scoped.subarray(13, 16)], [0, 0, 0], 'padding');
  const x = Buffer.from(host);
  x[12] = 1;
  t.ok(scoped.equals(x), 'the scope changes nothing else: which cgroups are in it is data of the policy\'s map, not of the hook');
  t.equal(encodeHook({ ...plan, scope: {} }, ctx).config[12], 1, 'an empty scope (an empty podSelector: every pod) is still a scope');
});

t.test('exec mechanisms read the filename as a linux_binprm (security_bprm_check arg 0) or a kernel string, never the syscall\'s', async (t) => {
  const execve: HookPlan = {
    policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: 'sys_execveat' }, syscall: true, args: [{ index: 1, type: 'string' }],
    selectors: [{ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/tmp/'] }], matchPIDs: [], matchBinaries: [], matchActions: [{ action: 'Sigkill' }] }],
  };
  const binprm = encodeHook(execve, { choice: { mechanism: 'exec_kprobe', syscall: false, execFile: 'binprm' } });
  t.same([...binprm.config.subarray(8, 11)], [1, 1, 0], 'nargs, nselectors, syscall 0');
  t.same([...binprm.config.subarray(ARG(0), ARG(1))], [6, 8, 0, 0, 0, 0, 0, 0], 'linux_binprm, 8 bytes, kernel memory, index 0');
  t.same([...binprm.config.subarray(AF(0, 0), AF(0, 0) + 4)], [0, 3, 1, 0], 'the filter is on arg position 0, the filename');
  const path = encodeHook(execve, { choice: { mechanism: 'exec', syscall: false, execFile: 'path' } });
  t.same([...path.config.subarray(ARG(0), ARG(1))], [2, 8, 0, 0, 0, 0, 0, 0], 'string in kernel memory (no user flag), index 0');
});

t.test('value lists go to the maps under their filter id', async (t) => {
  const e = encodeHook(plan, ctx);
  const one = Buffer.from([1]);
  const intKey = (id: number, v: bigint): Buffer => {
    const k = Buffer.alloc(16);
    k.writeUInt16LE(id, 0);
    k.writeBigInt64LE(v, 8);
    return k;
  };
  t.same(e.intEq, [intKey(2, -100n), intKey(2, 3n), intKey(3, 1n), intKey(3, 2n)].map((key) => ({ key, value: one })),
    'Equal on an int (sign-extended) and the pids of matchPIDs');

  const eq = Buffer.alloc(260);
  eq.writeUInt16LE(4, 0);
  eq.writeUInt16LE(8, 2);
  eq.write('/bin/cat', 4);
  t.same(e.eq, [{ key: eq, value: one }], 'In: hash key, zero-padded');

  const prefix = Buffer.alloc(260);
  prefix.writeUInt32LE(8 * (4 + 5), 0);
  prefix.writeUInt32LE(1, 4);
  prefix.write('/tmp/', 8);
  t.same(e.prefix, [{ key: prefix, value: one }], 'Prefix: LPM key, prefixlen covers the id');

  const postfix = Buffer.alloc(260);
  postfix.writeUInt32LE(8 * (4 + 3), 0);
  postfix.writeUInt32LE(5, 4);
  postfix.write('os.', 8);
  t.same(e.postfix, [{ key: postfix, value: one }], 'Postfix: reversed');
});

t.test('tracepoint args read the format field, at the width of the policy type', async (t) => {
  const tp: HookPlan = {
    policyName: 'p', hookIndex: 0, kind: 'tracepoint', target: { subsystem: 'syscalls', event: 'sys_enter_openat' }, syscall: false,
    args: [{ index: 5, type: 'int' }, { index: 6, type: 'string' }], selectors: [],
  };
  const fields = [0, 2, 3, 4].map((o, i) => ({ name: `common_${i}`, offset: o, size: 1, signed: false, type: 'unsigned char' }));
  fields.push({ name: '__syscall_nr', offset: 8, size: 4, signed: true, type: 'int' });
  fields.push({ name: 'dfd', offset: 16, size: 8, signed: false, type: 'int' });
  fields.push({ name: 'filename', offset: 24, size: 8, signed: false, type: 'const char *' });
  const e = encodeHook(tp, { choice: choice({ mechanism: 'tracepoint', syscall: false }), fields });
  t.same([...e.config.subarray(ARG(0), ARG(2))], [1, 4, 5, 0, 16, 0, 0, 0, 2, 8, 6, 0, 24, 0, 0, 0], 'int dfd: 4 bytes at 16, signed; filename: pointer at 24, user memory');
  t.equal(e.config[10], 0, 'not a syscall-args hook');
});

t.test('what the kernel side cannot evaluate is an error, never dropped', async (t) => {
  const bad = (s: Partial<HookPlan['selectors'][0]>): HookPlan => ({ ...plan, selectors: [{ matchArgs: [], matchPIDs: [], matchBinaries: [], matchActions: [], ...s }] });
  t.throws(() => encodeHook(bad({ matchArgs: [{ index: 4, operator: 'Equal', values: ['1'] }] }), ctx), { code: 'VIGIL_POLICY_INVALID', message: /index 4 is not one of the hook's args/ });
  t.throws(() => encodeHook(bad({ matchArgs: [{ index: 1, operator: 'GT', values: ['1'] }] }), ctx), { message: /GT compares integers/ });
  t.throws(() => encodeHook(bad({ matchArgs: [{ index: 0, operator: 'Prefix', values: ['1'] }] }), ctx), { message: /Prefix compares strings/ });
  t.throws(() => encodeHook(bad({ matchArgs: [{ index: 0, operator: 'Equal', values: ['4294967296'] }] }), ctx), { message: /does not fit int/ });
  t.throws(() => encodeHook(bad({ matchArgs: [{ index: 1, operator: 'Prefix', values: ['x'.repeat(256)] }] }), ctx), { message: /256 bytes/ });
  t.throws(() => encodeHook(bad({ matchArgs: [{ index: 0, operator: 'GT', values: [] }] }), ctx), { message: /needs at least one value/ });
  t.throws(() => encodeHook({ ...plan, selectors: Array(33).fill(plan.selectors[0]) }, ctx), { message: /33 selectors, at most 32/ });
  t.throws(() => encodeHook(bad({ matchActions: [{ action: 'Post', rateLimit: 'soon' }] }), ctx), { message: /not a duration/ });
  t.throws(() => encodeHook(bad({ matchActions: [{ action: 'Override', argError: 0 }] }), ctx), { message: /needs argError, an errno/ });
});

t.test('matchBinaries followChildren and matchParentBinaries share the binary slots; flags carry the parent bit and the follow bit', async (t) => {
  const p: HookPlan = {
    ...plan, selectors: [{
      matchArgs: [],
      matchPIDs: [{ operator: 'In', values: [3], followForks: true, isNamespacePID: true }],
      matchBinaries: [{ operator: 'In', values: ['/bin/sh'], followChildren: true }, { operator: 'Prefix', values: ['/usr/'] }],
      matchParentBinaries: [{ operator: 'NotIn', values: ['/usr/bin/sudo'] }],
      matchActions: [],
    }],
  };
  const e = encodeHook(p, ctx);
  t.same(e.follow, [BF(0, 0) + 1], 'the followChildren filter\'s flags byte is where its bit goes');
  t.same([...e.config.subarray(BF(0, 0), BF(0, 0) + 4)], [1, 0x40, 2, 0], 'encoded: In, followChildren, no bit yet, id 2');
  const config = bindHook(e, { hookId: 1, slot: 0, followBits: [5] });
  t.same([...config.subarray(SEL(0), SEL(0) + 3)], [0, 1, 3], 'nargs, npids, nbins: matchBinaries and matchParentBinaries');
  t.same([...config.subarray(PF(0, 0), PF(0, 0) + 4)], [1, 3, 1, 0], 'In, followForks | namespace pid, id 1');
  t.same([...config.subarray(BF(0, 0), BF(0, 0) + 4)], [1, 0x40 | 5, 2, 0], 'In, followChildren with bit 5, id 2');
  t.same([...config.subarray(BF(0, 1), BF(0, 1) + 4)], [3, 0, 3, 0], 'Prefix, id 3');
  t.same([...config.subarray(BF(0, 2), BF(0, 2) + 4)], [2, 0x80, 4, 0], "NotIn on the parent's binary, id 4");
  t.throws(() => bindHook(e, { hookId: 1, slot: 0 }), { code: 'VIGIL_INTERNAL' }, 'every followChildren filter needs its bit');
  const five = { ...p, selectors: [{ ...p.selectors[0], matchBinaries: Array(4).fill(p.selectors[0].matchBinaries[1]) }] };
  t.throws(() => encodeHook(five, ctx), { message: /5 matchBinaries and matchParentBinaries, at most 4/ });
});

t.test('matchNamespaces fold per type into ns_in/ns_notin and keyed values; matchNamespaceChanges is a mask', async (t) => {
  const p: HookPlan = {
    ...plan, selectors: [{
      matchArgs: [], matchPIDs: [], matchBinaries: [], matchActions: [],
      matchNamespaces: [
        { namespace: 'Uts', operator: 'In', values: ['host_ns', '7'] },
        { namespace: 'Uts', operator: 'NotIn', values: ['7'] },
        { namespace: 'Mnt', operator: 'NotIn', values: ['4026531841'] },
      ],
      matchNamespaceChanges: [{ operator: 'NotIn', values: ['Mnt', 'User'] }],
    }],
  };
  const e = encodeHook(p, { ...ctx, hostNs: (type) => (type === 'Uts' ? 4026531838 : 0) });
  const h = e.config.subarray(SEL(0), SEL(0) + 12);
  t.equal(h.readUInt16LE(4), 1 << 0, 'ns_in: Uts');
  t.equal(h.readUInt16LE(6), 1 << 2, 'ns_notin: Mnt');
  t.equal(h.readUInt16LE(8), 1, 'ns_id 1');
  t.equal(h.readUInt16LE(10), 0x3ff & ~((1 << 2) | (1 << 9)), 'ns_changes: every type but Mnt and User');
  const key = (id: number, v: bigint): Buffer => {
    const k = Buffer.alloc(16);
    k.writeUInt16LE(id, 0);
    k.writeBigUInt64LE(v, 8);
    return k;
  };
  t.same(e.intEq.map((x) => x.key), [key(1, 4026531838n), key(1, (2n << 32n) | 4026531841n)], 'Uts: host_ns, 7 removed by NotIn; Mnt: type 2 in the high half');
});

t.test('matchCapabilities and matchCapabilityChanges share the two capability filters', async (t) => {
  const p: HookPlan = {
    ...plan, selectors: [{
      matchArgs: [], matchPIDs: [], matchBinaries: [], matchActions: [],
      matchCapabilities: [{ type: 'Permitted', operator: 'NotIn', values: ['CAP_SYS_ADMIN', 'CAP_NET_RAW'], isNamespaceCapability: true }],
      matchCapabilityChanges: [{ type: 'Effective', operator: 'In', values: ['CAP_SETUID'], isNamespaceCapability: false }],
    }],
  };
  const e = encodeHook(p, ctx);
  t.equal(e.config[SEL(0) + 3], 2, 'ncaps');
  t.same([...e.config.subarray(CF(0, 0), CF(0, 0) + 3)], [0, 2, 1], 'permitted, NotIn, isNamespaceCapability');
  t.equal(e.config.readBigUInt64LE(CF(0, 0) + 8), (1n << 21n) | (1n << 13n), 'CAP_SYS_ADMIN | CAP_NET_RAW');
  t.same([...e.config.subarray(CF(0, 1), CF(0, 1) + 3)], [1, 1, 2], 'effective, In, a change since exec');
  t.equal(e.config.readBigUInt64LE(CF(0, 1) + 8), 1n << 7n, 'CAP_SETUID');
  const three = { ...p, selectors: [{ ...p.selectors[0], matchCapabilities: Array(2).fill(p.selectors[0].matchCapabilities![0]) }] };
  t.throws(() => encodeHook(three, ctx), { message: /3 matchCapabilities and matchCapabilityChanges, at most 2/ });
});

t.test('SubString values: struct vigil_substr_set under the filter id; FileType: a mask of i_mode >> 12 and file_modes', async (t) => {
  const sub: HookPlan = {
    policyName: 'p', hookIndex: 0, kind: 'kprobe', target: { function: 'security_file_open' }, syscall: false,
    args: [{ index: 0, type: 'file' }],
    selectors: [{
      matchArgs: [
        { index: 0, operator: 'SubString', values: ['/etc/', 'shadow-of-a-very-long-name.0123'] },
        { index: 0, operator: 'SubStringIgnCase', values: ['Key.PEM'] },
        { index: 0, operator: 'NotFileType', values: ['dir', 'chr', 'sock'] },
      ],
      matchPIDs: [], matchBinaries: [], matchActions: [],
    }],
  };
  const e = encodeHook(sub, { choice: choice({ mechanism: 'kprobe', syscall: false }) });
  const key = (id: number) => Buffer.from([id, 0, 0, 0]);
  // +0 u32 n, +4 u8 len[8], +16 u64 words[8][4], +272 u64 masks[8][4]
  const set = (values: string[]): Buffer => {
    const b = Buffer.alloc(528);
    b.writeUInt32LE(values.length, 0);
    values.forEach((v, j) => {
      b.writeUInt8(v.length, 4 + j);
      b.write(v, 16 + 32 * j);
      b.fill(0xff, 272 + 32 * j, 272 + 32 * j + v.length);
    });
    return b;
  };
  t.same(e.sub, [
    { key: key(1), value: set(['/etc/', 'shadow-of-a-very-long-name.0123']) },
    { key: key(2), value: set(['key.pem']) },
  ], 'each value zero-padded to 32 bytes with its mask; IgnCase lowercased');
  t.same([...e.config.subarray(AF(0, 0), AF(0, 0) + 4)], [0, 12, 1, 0], 'SubString: arg 0, op 12, id 1');
  t.same([...e.config.subarray(AF(0, 1), AF(0, 1) + 4)], [0, 13, 2, 0], 'SubStringIgnCase: op 13, id 2');
  t.same([...e.config.subarray(AF(0, 2), AF(0, 2) + 4)], [0, 15, 0, 0], 'NotFileType: op 15, no map');
  t.equal(e.config.readBigUInt64LE(AF(0, 2) + 8), (1n << 4n) | (1n << 2n) | (1n << 12n), 'dir 4, char 2, socket 12');
  t.equal(e.config[13], 1, 'file_modes: path args read i_mode');
  t.equal(e.config[14], 1, 'substr: the search is kept');
  t.same([...encodeHook(plan, ctx).config.subarray(13, 15)], [0, 0], 'neither without such filters');

  const bad = (matchArgs: HookPlan['selectors'][0]['matchArgs']) => () => encodeHook({ ...sub, selectors: [{ ...sub.selectors[0], matchArgs }] }, { choice: choice({ syscall: false }) });
  t.throws(bad([{ index: 0, operator: 'SubString', values: ['x'.repeat(33)] }]), /33 bytes in .*, at most 32/);
  t.throws(bad([{ index: 0, operator: 'SubString', values: Array(9).fill('x') }]), /9 SubString values, at most 8/);
  t.throws(bad([{ index: 0, operator: 'SubString', values: [''] }]), /empty SubString value/);
  t.throws(bad([{ index: 0, operator: 'FileType', values: ['directory'] }]), /"directory" is not a file type/);
  const buf = (returnCopy: boolean, type: 'char_buf' | 'char_iovec', operator: 'SubString' | 'Equal') => () => encodeHook({
    ...sub, args: [{ index: 0, type: 'int' }, { index: 1, type, sizeArgIndex: 3, ...(returnCopy ? { returnCopy } : {}) }, { index: 2, type: 'size_t' }],
    ...(returnCopy ? { returnArg: { index: 0, type: 'int' as const } } : {}),
    selectors: [{ ...sub.selectors[0], matchArgs: [{ index: 1, operator, values: ['x'] }] }],
  }, { choice: choice({ syscall: true }) });
  t.doesNotThrow(buf(false, 'char_buf', 'SubString'), 'SubString on a char_buf');
  t.throws(buf(true, 'char_buf', 'SubString'), /returnCopy char_buf is read at return/);
  t.throws(buf(false, 'char_buf', 'Equal'), /other than SubString and SubStringIgnCase on char_buf are not evaluated/);
  t.throws(buf(false, 'char_iovec', 'SubString'), /filters on char_iovec args/);
});

t.test('the lint limits of SubString are the kernel\'s', async (t) => {
  const { POLICY_LIMITS } = await import('../../policies/validate/limits.js');
  const L = await import('../../kernel/abi/layouts.generated.js');
  t.equal(POLICY_LIMITS.substringValueLength, L.vigil_config_limits.VIGIL_SUBSTR_LEN_MAX);
  t.equal(POLICY_LIMITS.substringValuesPerMatch, L.vigil_config_limits.VIGIL_SUBSTR_VALUES_MAX);
  t.equal(L.vigil_config_limits.VIGIL_SUBSTR_LEN_MAX, 8 * L.vigil_config_limits.VIGIL_SUBSTR_WORDS);
});
