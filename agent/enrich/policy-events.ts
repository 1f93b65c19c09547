// Builds process_kprobe, process_tracepoint, process_uprobe and process_lsm events from
// generic hook records, the hook's plan (which types its args have) and
// the process cache.
import type { ProcessCache } from '../process/cache.js';
import type { GenericArg, GenericRecord } from '../decode/records.js';
import type { KprobeAction, KprobeArgument, TetragonEvent, TetragonProcess, TetragonProcessStub } from '../../exporters/tetragon.js';
import type { ArgPlan, HookPlan } from '../../policies/compiler/plan.js';
import { ktimeToRfc3339 } from '../process/clock.js';
import { vigil_action as A } from '../../kernel/abi/layouts.generated.js';
import { bytesArgument, capabilityArgument, capsHex, credArgument } from './arg-formats.js';
import { validUtf8 } from '../decode/utf8.js';
import { readNetTuple, skbArg, sockaddrArgument, sockArg } from './net-args.js';
import { bpfCmdArgument, bpfMapArgument, bpfProgArgument, moduleArgument, netDevArgument, perfEventArgument, userNsArgument } from './kobj-args.js';

/** What the agent keeps of a loaded hook to turn its records into events. */
export interface PolicyHook {
  plan: HookPlan;
  /** The function events name: __x64_sys_openat for syscall kprobes, the hook for LSM. */
  functionName: string;
}

const ACTIONS: Record<number, KprobeAction> = {
  [A.VIGIL_ACTION_POST]: 'KPROBE_ACTION_POST',
  [A.VIGIL_ACTION_SIGKILL]: 'KPROBE_ACTION_SIGKILL',
  [A.VIGIL_ACTION_SIGNAL]: 'KPROBE_ACTION_SIGNAL',
  [A.VIGIL_ACTION_OVERRIDE]: 'KPROBE_ACTION_OVERRIDE',
};

export const actionName = (action: number): KprobeAction => ACTIONS[action] ?? 'KPROBE_ACTION_UNKNOWN';

const int64 = (b: Buffer): bigint => (b.length >= 8 ? b.readBigInt64LE(0) : 0n);

/** A network arg's tuple in Tetragon's shape; empty when the record holds none. */
function net<T extends object>(bytes: Buffer, shape: (t: NonNullable<ReturnType<typeof readNetTuple>>) => T): T {
  const t = readNetTuple(bytes);
  return t ? shape(t) : ({} as T);
}

/** One argument in Tetragon's shape for its type. */
export function kprobeArgument(plan: ArgPlan, arg: GenericArg | undefined): KprobeArgument {
  const bytes = arg?.bytes ?? Buffer.alloc(0);
  const v = int64(bytes);
  let out: KprobeArgument;
  switch (plan.type) {
    case 'int': case 'int8': case 'int16': case 'int32': out = { int_arg: Number(BigInt.asIntN(32, v)) }; break;
    case 'uint8': case 'uint16': case 'uint32': out = { uint_arg: Number(BigInt.asUintN(32, v)) }; break;
    case 'int64': out = { long_arg: BigInt.asIntN(64, v).toString() }; break;
    case 'uint64': case 'size_t': out = { size_arg: BigInt.asUintN(64, v).toString() }; break;
    case 'string': case 'data_loc': out = { string_arg: validUtf8(bytes) }; break;
    case 'fd': case 'file': out = { file_arg: pathValue(bytes) }; break;
    case 'path': case 'dentry': out = { path_arg: pathValue(bytes) }; break;
    case 'linux_binprm': out = { linux_binprm_arg: pathValue(bytes) }; break;
    case 'char_buf': case 'char_iovec': out = bytesArgument(arg); break;
    case 'cred': out = credArgument(arg); break;
    case 'capability': out = capabilityArgument(Number(BigInt.asIntN(32, v))); break;
    case 'kernel_cap_t': out = { kernel_cap_t_arg: capsHex(v) }; break;
    case 'cap_inheritable': out = { cap_inheritable_arg: capsHex(v) }; break;
    case 'cap_permitted': out = { cap_permitted_arg: capsHex(v) }; break;
    case 'cap_effective': out = { cap_effective_arg: capsHex(v) }; break;
    case 'sock': case 'socket': out = { sock_arg: net(bytes, sockArg) }; break;
    case 'sockaddr': out = sockaddrArgument(bytes); break;
    case 'skb': out = { skb_arg: net(bytes, skbArg) }; break;
    case 'bpf_attr': out = bpfProgArgument('bpf_attr_arg', bytes); break;
    case 'bpf_prog': out = bpfProgArgument('bpf_prog_arg', bytes); break;
    case 'bpf_map': out = bpfMapArgument(bytes); break;
    case 'perf_event': out = perfEventArgument(bytes); break;
    case 'user_namespace': out = userNsArgument(bytes); break;
    case 'module': case 'load_info': out = moduleArgument(bytes); break;
    case 'net_device': out = netDevArgument(bytes); break;
    case 'bpf_cmd': out = bpfCmdArgument(Number(BigInt.asIntN(32, v))); break;
    // raw_syscalls' id is the number in the caller's own table; Vigil does not mark 32-bit callers.
    case 'syscall64': out = { syscall_id: { id: Number(BigInt.asUintN(32, v)), abi: 'x64' } }; break;
  }
  if (plan.label) out.label = plan.label;
  return out;
}

function subject(cache: ProcessCache, rec: GenericRecord): { process: TetragonProcess | TetragonProcessStub; parent?: TetragonProcess } {
  const node = cache.resolve(rec.proc);
  if (!node) return { process: { pid: rec.proc.pid, start_time: ktimeToRfc3339(rec.proc.ktime) } };
  // The process as cached, with the thread that hit the hook.
  const process = node.json.tid === rec.tid ? node.json : { ...node.json, tid: rec.tid };
  return { process, parent: cache.parentOf(node)?.json };
}

/** A path argument's message; an empty path is left out, as protojson leaves an empty string. */
const pathValue = (bytes: Buffer): { path: string } => (bytes.length ? { path: validUtf8(bytes) } : ({} as { path: string }));

export function policyEvent(cache: ProcessCache, hook: PolicyHook, rec: GenericRecord): TetragonEvent {
  const { plan } = hook;
  const { process, parent } = subject(cache, rec);
  const args = plan.args.map((a, i) => kprobeArgument(a, rec.args[i]));
  const action = actionName(rec.action);
  const tail = { message: plan.message || undefined, tags: plan.tags?.length ? plan.tags : undefined };
  const time = ktimeToRfc3339(rec.ktime);
  const base = { node_name: cache.nodeName, time };
  switch (plan.kind) {
    case 'kprobe': {
      if (!plan.returnArg) return { process_kprobe: { process, parent, function_name: hook.functionName, args, action, policy_name: plan.policyName, ...tail }, ...base };
      // A return probe's record holds the return value after the args; the actions ran at return.
      const ret = kprobeArgument(plan.returnArg, rec.args[plan.args.length]);
      return {
        process_kprobe: {
          process, parent, function_name: hook.functionName, args, return: ret, action, policy_name: plan.policyName, return_action: 'KPROBE_ACTION_POST', ...tail,
        },
        ...base,
      };
    }
    case 'tracepoint':
      return { process_tracepoint: { process, parent, subsys: plan.target.subsystem, event: plan.target.event, args, policy_name: plan.policyName, action, ...tail }, ...base };
    case 'uprobe': {
      // process_uprobe has no return field: a return probe's value is the last arg.
      const all = plan.returnArg ? [...args, kprobeArgument(plan.returnArg, rec.args[plan.args.length])] : args;
      const { target } = plan;
      return {
        process_uprobe: {
          process, parent, path: target.path, symbol: target.symbol || undefined, policy_name: plan.policyName, message: tail.message, args: all, tags: tail.tags,
          ...(target.symbol ? {} : { offset: String(target.offset) }), ...(target.refCtrOffset ? { ref_ctr_offset: String(target.refCtrOffset) } : {}), action,
        },
        ...base,
      };
    }
    case 'lsm':
      return { process_lsm: { process, parent, function_name: hook.functionName, policy_name: plan.policyName, message: tail.message, args, action, tags: tail.tags }, ...base };
  }
}
