// Processes that already run when the agent starts, read from /proc and
// flagged procFS. Their ktime is their start time since boot.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { ProcessImage } from '../decode/records.js';
import { procNamespaces } from './namespaces.js';
import { vigil_process_flag as F } from '../../kernel/abi/layouts.generated.js';

const CLK_TCK = 100n;
const NS_PER_TICK = 1_000_000_000n / CLK_TCK;

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const link = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

/** The fields of /proc/<pid>/status, by name, each split on white space. */
function statusFields(status: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const line of status.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim().split(/\s+/));
  }
  return fields;
}

export interface ProcfsProcess extends ProcessImage {
  ppid: number;
  kernelThread: boolean;
}

/** A process as /proc/<pid>/stat has it: enough to order the processes and name each parent. */
export interface ProcfsEntry {
  pid: number;
  ppid: number;
  ktime: bigint;
}

function readStat(pid: number): (ProcfsEntry & { comm: string }) | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // comm may hold spaces and parentheses: fields start after the last ')'.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return { pid, comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(fields[1]), ktime: BigInt(fields[19]) * NS_PER_TICK };
}

/** One process, its parent's start time given (0: unknown); undefined if it is gone or is a thread. */
export function readProcess(pid: number, parentKtime = 0n): ProcfsProcess | undefined {
  const stat = readStat(pid);
  const text = read(`/proc/${pid}/status`);
  if (!stat || !text) return undefined;
  const status = statusFields(text);
  const { comm, ppid, ktime } = stat;
  const tgid = Number(status.get('Tgid')?.[0]);
  if (tgid !== pid) return undefined;
  const [uid, euid, suid, fsuid] = (status.get('Uid') ?? []).map(Number);
  const [gid, egid, sgid, fsgid] = (status.get('Gid') ?? []).map(Number);
  const cap = (name: string): bigint => BigInt(`0x${status.get(name)?.[0] ?? '0'}`);
  const nspids = (status.get('NSpid') ?? []).map(Number);
  const exe = link(`/proc/${pid}/exe`);
  const cmdline = read(`/proc/${pid}/cmdline`) ?? '';
  const kernelThread = exe === undefined && cmdline === '';
  const args = cmdline.split('\0');
  if (args.at(-1) === '') args.pop();
  const cwd = link(`/proc/${pid}/cwd`);
  let flags = F.VIGIL_FLAG_PROCFS;
  if (cwd === '/') flags |= F.VIGIL_FLAG_ROOTCWD;
  if (cwd === undefined) flags |= F.VIGIL_FLAG_NOCWD;
  return {
    proc: { pid, ktime },
    parent: ppid > 0 ? { pid: ppid, ktime: parentKtime } : undefined,
    ppid,
    kernelThread,
    tid: pid,
    auid: Number(read(`/proc/${pid}/loginuid`) ?? 4294967295),
    nspid: nspids.at(-1) ?? pid,
    flags,
    creds: { uid, gid, suid, sgid, euid, egid, fsuid, fsgid },
    caps: { permitted: cap('CapPrm'), effective: cap('CapEff'), inheritable: cap('CapInh') },
    cgroupId: 0n,
    binary: (exe ?? `[${comm}]`).replace(/ \(deleted\)$/, ''),
    args: args.length ? args : [comm],
    cwd: cwd ?? '',
    ns: procNamespaces(pid),
  };
}

/** Every process in /proc by its stat alone, parents before children (by start time, then pid). */
export function listProcfs(): ProcfsEntry[] {
  const all: ProcfsEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const e = readStat(Number(name));
    if (e) all.push({ pid: e.pid, ppid: e.ppid, ktime: e.ktime });
  }
  return all.sort((a, b) => (a.ktime < b.ktime ? -1 : a.ktime > b.ktime ? 1 : a.pid - b.pid));
}

/**
 * Every process in /proc, parents before children, read `size` at a time:
 * a node's thousands of processes are never all held at once, and a caller
 * can yield between batches.
 */
export function* procfsBatches(size: number): Generator<ProcfsProcess[]> {
  const entries = listProcfs();
  const ktimes = new Map(entries.map((e) => [e.pid, e.ktime]));
  for (let i = 0; i < entries.length; i += size) {
    const batch: ProcfsProcess[] = [];
    for (const e of entries.slice(i, i + size)) {
      const p = readProcess(e.pid, ktimes.get(e.ppid) ?? 0n);
      // A pid reused since the listing is another process: its parent's start time is not known.
      if (p && p.proc.ktime !== e.ktime && p.parent) p.parent.ktime = 0n;
      if (p) batch.push(p);
    }
    yield batch;
  }
}
