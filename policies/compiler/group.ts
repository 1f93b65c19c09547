// Hook groups: the hooks of several policies on one function or
// tracepoint, run by one generic program (kprobes/include/generic.h).
// The args are read once per call, whatever the number of policies, and
// a gate (one LPM lookup) rules out the selectors whose Prefix on the gate
// arg cannot match; each hook's first matching selector then acts as it
// would alone, in a record with its own hook id, selector index and
// counter slot.
//
// Hooks join a group when their args are read alike (the same args
// config) on the same program and target, they only report (enforcing
// hooks are pinned one by one: agent/sensors/pins.ts), and they are not
// limited to pods (a scope is a map per policy). The group's rodata is the
// members' encoded hooks, their selectors one after another, their filter
// ids renumbered past each other's, and:
//
//   nmembers     the hooks; members[i] = { hook_id, slot }
//   selector     +12 member, +13 its index among its hook's selectors
//   gate_arg     1 + the arg most selectors have a Prefix on; 0: none
//                (or one: its own lookup is the gate's)
//   ungated      the selectors without one (u64 mask)
//   group_slot,  the group's entry in vigil_group_gen, and the generation
//   generation   that runs: a new version is loaded, attached, made
//                current, then the old one detached
//
// vigil_gate (LPM trie, lpmKey(0, bytes) -> u64): each Prefix value of the
// gate arg, with the selectors of every value that is a prefix of it, so
// the longest match gives all selectors that may match.
import * as L from '../../kernel/abi/layouts.generated.js';
import { VigilError } from '../../kernel/errors.js';
import { bindHook, lpmKey, type EncodedHook, type HookIdentity, type MapEntry } from './encode.js';
import { planActions } from './plan.js';
import { targetName } from './mechanism.js';
import type { CompiledGenericHook } from './compile.js';

const HC = L.vigil_hook_config;
const SEL = L.vigil_selector;
const AF = L.vigil_arg_filter;
const PF = L.vigil_pid_filter;
const BF = L.vigil_bin_filter;
const M = L.vigil_member;
const C = L.vigil_config_limits;
const OP = L.vigil_filter_op;
const LK = L.vigil_lpm_key;

const GROUP_ATTACH = new Set(['tracepoint', 'kprobe', 'trampoline']);
const OBSERVE = new Set(['Post', 'NoPost']);

/** What hooks must share to run in one program; undefined: the hook runs alone. */
export function groupKey(hook: CompiledGenericHook): string | undefined {
  const { plan, choice, encoded } = hook;
  if (plan.scope || !plan.selectors.length || plan.returnArg || choice.entryProgram || !GROUP_ATTACH.has(choice.attach)) return undefined;
  if ([...planActions(plan)].some((a) => !OBSERVE.has(a))) return undefined;
  const head = Buffer.from(encoded.config.subarray(0, HC.offsetof.selectors));
  for (const f of ['hook_id', 'slot'] as const) head.writeUInt32LE(0, HC.offsetof[f]);
  for (const f of ['nselectors', 'file_modes', 'substr'] as const) head.writeUInt8(0, HC.offsetof[f]);
  return [choice.object, choice.program, choice.mechanism, targetName(choice.target), head.toString('hex')].join('|');
}

/** Selectors a group holds. */
export const GROUP_SELECTORS_MAX = C.VIGIL_SELECTORS_MAX;
export const GROUP_MEMBERS_MAX = C.VIGIL_MEMBERS_MAX;

export interface GroupMember {
  encoded: EncodedHook;
  id: HookIdentity;
}

export type GroupValues = Pick<EncodedHook, 'intEq' | 'eq' | 'prefix' | 'postfix' | 'sub' | 'net'>;

export interface EncodedGroup {
  /** rodata vigil_hook, ready to load. */
  config: Buffer;
  values: GroupValues;
  /** vigil_gate. */
  gate: MapEntry[];
}

/** Where each map's keys hold their filter id, and its width. */
const KEY_ID: Record<keyof GroupValues, { at: number; bytes: 2 | 4 }> = {
  intEq: { at: L.vigil_int_key.offsetof.id, bytes: 2 },
  eq: { at: L.vigil_string_key.offsetof.id, bytes: 2 },
  prefix: { at: LK.offsetof.id, bytes: 4 },
  postfix: { at: LK.offsetof.id, bytes: 4 },
  sub: { at: 0, bytes: 4 },
  net: { at: L.vigil_net_key.offsetof.data, bytes: 2 },
};

/** The selectors' id fields (arg, pid and binary filters, namespaces) at a selector's offset. */
function idFields(b: Buffer, at: number): number[] {
  const out: number[] = [];
  const n = (f: 'nargs' | 'npids' | 'nbins'): number => b.readUInt8(at + SEL.offsetof[f]);
  for (let i = 0; i < n('nargs'); i++) out.push(at + SEL.offsetof.args + i * AF.sizeof + AF.offsetof.id);
  for (let i = 0; i < n('npids'); i++) out.push(at + SEL.offsetof.pids + i * PF.sizeof + PF.offsetof.id);
  for (let i = 0; i < n('nbins'); i++) out.push(at + SEL.offsetof.bins + i * BF.sizeof + BF.offsetof.id);
  out.push(at + SEL.offsetof.ns_id);
  return out;
}

const rekey = (e: MapEntry, where: { at: number; bytes: 2 | 4 }, base: number): MapEntry => {
  const key = Buffer.from(e.key);
  if (where.bytes === 2) key.writeUInt16LE(key.readUInt16LE(where.at) + base, where.at);
  else key.writeUInt32LE(key.readUInt32LE(where.at) + base, where.at);
  return { key, value: e.value };
};

/** The members' hooks as one program's rodata and maps. */
export function encodeGroup(members: GroupMember[], group: { slot: number; generation: number }): EncodedGroup {
  if (!members.length || members.length > GROUP_MEMBERS_MAX) throw new VigilError('VIGIL_INTERNAL', `a hook group of ${members.length} hooks`);
  const config = bindHook(members[0].encoded, members[0].id);
  config.fill(0, HC.offsetof.selectors, HC.offsetof.selectors + C.VIGIL_SELECTORS_MAX * SEL.sizeof);
  const values: GroupValues = { intEq: [], eq: [], prefix: [], postfix: [], sub: [], net: [] };
  let n = 0;
  let base = 0;
  members.forEach((m, j) => {
    const own = bindHook(m.encoded, m.id);
    const count = own.readUInt8(HC.offsetof.nselectors);
    if (n + count > GROUP_SELECTORS_MAX) throw new VigilError('VIGIL_INTERNAL', `a hook group of more than ${GROUP_SELECTORS_MAX} selectors`);
    let top = 0;
    for (let k = 0; k < count; k++, n++) {
      const at = HC.offsetof.selectors + n * SEL.sizeof;
      own.copy(config, at, HC.offsetof.selectors + k * SEL.sizeof, HC.offsetof.selectors + (k + 1) * SEL.sizeof);
      config.writeUInt8(j, at + SEL.offsetof.member);
      config.writeUInt8(k, at + SEL.offsetof.local);
      for (const f of idFields(config, at)) {
        const id = config.readUInt16LE(f);
        if (!id) continue;
        top = Math.max(top, id);
        config.writeUInt16LE(id + base, f);
      }
    }
    for (const name of Object.keys(values) as (keyof GroupValues)[]) values[name].push(...m.encoded[name].map((e) => rekey(e, KEY_ID[name], base)));
    for (const f of ['file_modes', 'substr'] as const) config.writeUInt8(config.readUInt8(HC.offsetof[f]) | own.readUInt8(HC.offsetof[f]), HC.offsetof[f]);
    config.writeUInt32LE(m.id.hookId, HC.offsetof.members + j * M.sizeof + M.offsetof.hook_id);
    config.writeUInt32LE(m.id.slot, HC.offsetof.members + j * M.sizeof + M.offsetof.slot);
    base += top;
    if (base > 0xffff) throw new VigilError('VIGIL_INTERNAL', `a hook group of more than 65535 filter ids`);
  });
  config.writeUInt8(n, HC.offsetof.nselectors);
  config.writeUInt8(members.length, HC.offsetof.nmembers);
  config.writeUInt16LE(group.slot, HC.offsetof.group_slot);
  config.writeUInt32LE(group.generation, HC.offsetof.generation);
  const gate = gateOf(config, n, values.prefix);
  return { config, values, gate };
}

/** Chooses the gate arg, writes gate_arg and ungated, and returns vigil_gate's entries. */
function gateOf(config: Buffer, n: number, prefix: MapEntry[]): MapEntry[] {
  const gated = new Map<number, { sel: number; id: number }[]>();
  for (let i = 0; i < n; i++) {
    const at = HC.offsetof.selectors + i * SEL.sizeof;
    const seen = new Set<number>();
    for (let k = 0; k < config.readUInt8(at + SEL.offsetof.nargs); k++) {
      const f = at + SEL.offsetof.args + k * AF.sizeof;
      const arg = config.readUInt8(f + AF.offsetof.arg);
      if (config.readUInt8(f + AF.offsetof.op) !== OP.VIGIL_FOP_PREFIX || seen.has(arg)) continue;
      seen.add(arg);
      gated.set(arg, [...(gated.get(arg) ?? []), { sel: i, id: config.readUInt16LE(f + AF.offsetof.id) }]);
    }
  }
  // One gated selector does the gate's lookup itself.
  const best = [...gated.entries()].sort((a, b) => b[1].length - a[1].length)[0];
  if (!best || best[1].length < 2) return [];
  const [arg, sels] = best;
  const all = (1n << BigInt(n)) - 1n;
  const admitted = sels.reduce((m, s) => m | (1n << BigInt(s.sel)), 0n);
  config.writeUInt8(arg + 1, HC.offsetof.gate_arg);
  config.writeBigUInt64LE(all & ~admitted, HC.offsetof.ungated);

  // Each value of a gating filter, with the selectors whose values start it.
  const bytesOf = (key: Buffer): Buffer => key.subarray(LK.offsetof.data, LK.offsetof.data + key.readUInt32LE(LK.offsetof.prefixlen) / 8 - 4);
  const selOf = new Map<number, number[]>();
  for (const s of sels) selOf.set(s.id, [...(selOf.get(s.id) ?? []), s.sel]);
  const vals: { bytes: Buffer; mask: bigint }[] = [];
  for (const e of prefix) {
    const on = selOf.get(e.key.readUInt32LE(LK.offsetof.id));
    if (on) vals.push({ bytes: bytesOf(e.key), mask: on.reduce((m, s) => m | (1n << BigInt(s)), 0n) });
  }
  const masks = new Map<string, { bytes: Buffer; mask: bigint }>();
  for (const v of vals) {
    const mask = vals.reduce((m, w) => (w.bytes.length <= v.bytes.length && v.bytes.subarray(0, w.bytes.length).equals(w.bytes) ? m | w.mask : m), 0n);
    masks.set(v.bytes.toString('hex'), { bytes: v.bytes, mask });
  }
  return [...masks.values()].map(({ bytes, mask }) => {
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(mask);
    return { key: lpmKey(0, bytes), value };
  });
}
