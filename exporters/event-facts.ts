// What the ECS and OCSF mappings read from a Tetragon event: its kind, the
// subject and actor processes, argv back from Tetragon's argument string,
// and the file or network endpoint a policy event is about.
import { PROTOCOL_NUMBERS } from '../kernel/net/names.js';
import type { KprobeArgument, KprobeAction, TetragonEvent, TetragonProcess, TetragonProcessStub } from './tetragon.js';

export type Kind = 'exec' | 'exit' | 'policy' | 'lost' | 'rate_limit' | 'other';

export interface PolicyFacts {
  /** process_kprobe, process_tracepoint, process_uprobe or process_lsm. */
  type: 'process_kprobe' | 'process_tracepoint' | 'process_uprobe' | 'process_lsm';
  /** The hooked function, or subsys/event for a tracepoint. */
  hook: string;
  policy: string;
  action: KprobeAction;
  message?: string;
  tags?: string[];
  args: KprobeArgument[];
}

export interface Facts {
  kind: Kind;
  process?: TetragonProcess | TetragonProcessStub;
  parent?: TetragonProcess;
  policy?: PolicyFacts;
}

export function facts(ev: TetragonEvent): Facts {
  if (ev.process_exec) return { kind: 'exec', process: ev.process_exec.process, parent: ev.process_exec.parent };
  if (ev.process_exit) return { kind: 'exit', process: ev.process_exit.process, parent: ev.process_exit.parent };
  const k = ev.process_kprobe;
  const tp = ev.process_tracepoint;
  const lsm = ev.process_lsm;
  const up = ev.process_uprobe;
  const body = k ?? tp ?? up ?? lsm;
  if (body) {
    const type = k ? 'process_kprobe' : tp ? 'process_tracepoint' : up ? 'process_uprobe' : 'process_lsm';
    const hook = k?.function_name ?? lsm?.function_name ?? (up ? `${up.path}:${up.symbol || up.offset}` : `${tp!.subsys}/${tp!.event}`);
    return {
      kind: 'policy', process: body.process, parent: body.parent,
      policy: { type, hook, policy: body.policy_name, action: body.action, message: body.message, tags: body.tags, args: body.args },
    };
  }
  if (ev.vigil_lost) return { kind: 'lost' };
  if (ev.rate_limit_info) return { kind: 'rate_limit' };
  return { kind: 'other' };
}

export const full = (p: TetragonProcess | TetragonProcessStub | undefined): TetragonProcess | undefined => (p && 'binary' in p ? p : undefined);

/**
 * argv[1..] from Tetragon's argument string, as far as it can be told:
 * arguments are joined by one space each (an empty one leaves two spaces
 * in a row), and one that holds a space is wrapped in double quotes with
 * nothing escaped inside (and a space before it even when first). A
 * quoted argument ends at the first quote, past a space of its own, that
 * is followed by a space or the end.
 */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let i = s.startsWith(' "') ? 1 : 0;
  while (i < s.length) {
    let end = -1;
    if (s[i] === '"') {
      for (let q = s.indexOf('"', s.indexOf(' ', i + 1)); q > i && end < 0; q = s.indexOf('"', q + 1)) {
        if (q === s.length - 1 || s[q + 1] === ' ') end = q;
      }
    }
    if (end > i && s.indexOf(' ', i + 1) < end) {
      out.push(s.slice(i + 1, end));
      i = end + 2;
    } else {
      const sp = s.indexOf(' ', i);
      const stop = sp < 0 ? s.length : sp;
      out.push(s.slice(i, stop));
      i = stop + 1;
    }
  }
  return out;
}

export const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
export const dirName = (path: string): string => (path.lastIndexOf('/') > 0 ? path.slice(0, path.lastIndexOf('/')) : '/');

/** The path of the first file, path or linux_binprm argument. */
export function filePath(args: KprobeArgument[]): string | undefined {
  for (const a of args) {
    const p = a.file_arg?.path ?? a.path_arg?.path ?? a.linux_binprm_arg?.path;
    if (p) return p;
  }
  return undefined;
}

export interface Endpoints {
  family?: 'ipv4' | 'ipv6';
  /** tcp, udp, … (IANA keyword), with its number. */
  transport?: string;
  ianaNumber?: number;
  source?: { ip?: string; port?: number };
  destination?: { ip?: string; port?: number };
}

const familyOf = (f?: string): Endpoints['family'] => (f === 'AF_INET' ? 'ipv4' : f === 'AF_INET6' ? 'ipv6' : undefined);
const ep = (ip?: string, port?: number): { ip?: string; port?: number } | undefined =>
  ip || port ? { ...(ip ? { ip } : {}), ...(port ? { port } : {}) } : undefined;

/** The endpoints of the first sock, skb or sockaddr argument; a sockaddr is the destination (connect, sendmsg). */
export function endpoints(args: KprobeArgument[]): Endpoints | undefined {
  for (const a of args) {
    const s = a.sock_arg ?? a.skb_arg;
    if (s) {
      const proto = s.protocol && PROTOCOL_NUMBERS[s.protocol] !== undefined ? s.protocol : undefined;
      return {
        family: familyOf(s.family),
        ...(proto ? { transport: proto.replace(/^IPPROTO_/, '').toLowerCase(), ianaNumber: PROTOCOL_NUMBERS[proto] } : {}),
        source: ep(s.saddr, s.sport), destination: ep(s.daddr, s.dport),
      };
    }
    if (a.sockaddr_arg) return { family: familyOf(a.sockaddr_arg.family), destination: ep(a.sockaddr_arg.addr, a.sockaddr_arg.port) };
  }
  return undefined;
}

/** Whether the policy stopped what the process did (Override) or the process (Sigkill, Signal). */
export const enforced = (a: KprobeAction): boolean => a === 'KPROBE_ACTION_OVERRIDE' || a === 'KPROBE_ACTION_SIGKILL' || a === 'KPROBE_ACTION_SIGNAL';

/** ms since the epoch of an RFC 3339 time (Date.parse drops digits past the ms). */
export const epochMs = (t: string): number => Date.parse(t);
