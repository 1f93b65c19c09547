// A hook group's rodata and maps (policies/compiler/group.ts): the
// members' selectors one after another, tagged with their hook and
// index, filter ids renumbered past each other's, and the gate's values
// each with the selectors of every value that starts it.
import t from 'tap';
import * as L from '../../kernel/abi/layouts.generated.js';
import { encodeHook, lpmKey, type EncodeContext } from '../../policies/compiler/encode.js';
import { encodeGroup } from '../../policies/compiler/group.js';
import type { HookPlan, SelectorPlan } from '../../policies/compiler/plan.js';

const HC = L.vigil_hook_config;
const SEL = L.vigil_selector;
const AF = L.vigil_arg_filter;
const ctx: EncodeContext = { choice: { mechanism: 'tracepoint', syscall: true } };
const sel = (s: Partial<SelectorPlan>): SelectorPlan => ({ matchArgs: [], matchPIDs: [], matchBinaries: [], matchActions: [], ...s });
const plan = (name: string, selectors: SelectorPlan[]): HookPlan => ({
  policyName: name, hookIndex: 0, kind: 'kprobe', target: { function: 'sys_openat' }, syscall: true,
  args: [{ index: 0, type: 'int' }, { index: 1, type: 'string' }], selectors,
});

const a = encodeHook(plan('a', [sel({ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/a/'] }, { index: 0, operator: 'Equal', values: ['3'] }] })]), ctx);
const b = encodeHook(plan('b', [
  sel({ matchArgs: [{ index: 1, operator: 'Prefix', values: ['/a/b/', '/c/'] }] }),
  sel({ matchArgs: [{ index: 1, operator: 'Postfix', values: ['.log'] }] }),
]), ctx);

t.test('members, selectors and ids', async (t) => {
  const g = encodeGroup([{ encoded: a, id: { hookId: 11, slot: 5 } }, { encoded: b, id: { hookId: 12, slot: 6 } }], { slot: 3, generation: 9 });
  const c = g.config;
  const at = (i: number): number => HC.offsetof.selectors + i * SEL.sizeof;
  const filter = (i: number, j: number): number => at(i) + SEL.offsetof.args + j * AF.sizeof;
  t.equal(c.readUInt8(HC.offsetof.nselectors), 3, 'three selectors');
  t.equal(c.readUInt8(HC.offsetof.nmembers), 2, 'two members');
  t.same([0, 1, 2].map((i) => [c.readUInt8(at(i) + SEL.offsetof.member), c.readUInt8(at(i) + SEL.offsetof.local)]), [[0, 0], [1, 0], [1, 1]], 'each selector\'s member and its index there');
  t.same([c.readUInt32LE(HC.offsetof.members), c.readUInt32LE(HC.offsetof.members + 4), c.readUInt32LE(HC.offsetof.members + 8), c.readUInt32LE(HC.offsetof.members + 12)], [11, 5, 12, 6], 'members: hook id, slot');
  t.same([c.readUInt16LE(HC.offsetof.group_slot), c.readUInt32LE(HC.offsetof.generation)], [3, 9], 'group slot and generation');
  t.same([filter(0, 0), filter(0, 1), filter(1, 0), filter(2, 0)].map((f) => c.readUInt16LE(f + AF.offsetof.id)), [1, 2, 3, 4], 'b\'s ids follow a\'s');
  t.same(g.values.prefix.map((e) => e.key.readUInt32LE(L.vigil_lpm_key.offsetof.id)), [1, 3, 3], 'the Prefix values under the new ids');
  t.same(g.values.postfix.map((e) => e.key.readUInt32LE(L.vigil_lpm_key.offsetof.id)), [4], 'the Postfix value too');
  t.same(g.values.intEq.map((e) => e.key.readUInt16LE(0)), [2], 'a\'s integer keeps its id');
});

t.test('the gate', async (t) => {
  const g = encodeGroup([{ encoded: a, id: { hookId: 1, slot: 1 } }, { encoded: b, id: { hookId: 2, slot: 2 } }], { slot: 0, generation: 1 });
  t.equal(g.config.readUInt8(HC.offsetof.gate_arg), 2, 'on arg 1, which the Prefix filters read');
  t.equal(g.config.readBigUInt64LE(HC.offsetof.ungated), 0b100n, 'the Postfix selector is never ruled out');
  const gate = new Map(g.gate.map((e) => [e.key.toString('hex'), e.value.readBigUInt64LE()]));
  t.same([...gate.values()].sort(), [0b01n, 0b10n, 0b11n], 'three values');
  t.equal(gate.get(lpmKey(0, Buffer.from('/a/')).toString('hex')), 0b01n, '/a/: a\'s selector');
  t.equal(gate.get(lpmKey(0, Buffer.from('/a/b/')).toString('hex')), 0b11n, '/a/b/: b\'s, and a\'s, whose /a/ starts it');
  t.equal(gate.get(lpmKey(0, Buffer.from('/c/')).toString('hex')), 0b10n, '/c/: b\'s');
});

t.test('a group without two Prefix filters on one arg has no gate', async (t) => {
  const one = encodeGroup([{ encoded: a, id: { hookId: 1, slot: 1 } }], { slot: 0, generation: 1 });
  t.equal(one.config.readUInt8(HC.offsetof.gate_arg), 0, 'one Prefix selector: its own lookup is the gate');
  const equal = encodeHook(plan('p', [sel({ matchArgs: [{ index: 0, operator: 'Equal', values: ['1'] }] })]), ctx);
  const g = encodeGroup([{ encoded: equal, id: { hookId: 1, slot: 1 } }], { slot: 0, generation: 1 });
  t.equal(g.config.readUInt8(HC.offsetof.gate_arg), 0, 'gate_arg 0');
  t.same(g.gate, [], 'no gate values');
});
