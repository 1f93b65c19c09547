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

function statusField(status: string, name: string): string[] {
  const line = status.split('\n').find((l) => l.startsWith(`${name}:`));
  return line ? line.slice(name.length + 1).trim().split(/\s+/) : [];
}

export interface ProcfsProcess extends ProcessImage {
  ppid: number;
  kernelThread: boolean;
}

export function readProcess(pid: number): ProcfsProcess | undefined {
  const stat = read(`/proc/${pid}/stat`);
  const status = read(`/proc/${pid}/status`);
  if (!stat || !status) return undefined;
  // comm may hold spaces and parentheses: fields start after the last ')'.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const ktime = BigInt(fields[19]) * NS_PER_TICK;
  const tgid = Number(statusField(status, 'Tgid')[0]);
  if (tgid !== pid) return undefined;
  const [uid, euid, suid, fsuid] = statusField(status, 'Uid').map(Number);
  const [gid, egid, sgid, fsgid] = statusField(status, 'Gid').map(Number);
  const cap = (name: string): bigint => BigInt(`0x${statusField(status, name)[0] ?? '0'}`);
  const nspids = statusField(status, 'NSpid').map(Number);
  const exe = link(`/proc/${pid}/exe`);
  const kernelThread = exe === undefined && (read(`/proc/${pid}/cmdline`) ?? '') === '';
  const cmdline = read(`/proc/${pid}/cmdline`) ?? '';
  const args = cmdline.split('\0');
  if (args.at(-1) === '') args.pop();
  const cwd = link(`/proc/${pid}/cwd`);
  let flags = F.VIGIL_FLAG_PROCFS;
  if (cwd === '/') flags |= F.VIGIL_FLAG_ROOTCWD;
  if (cwd === undefined) flags |= F.VIGIL_FLAG_NOCWD;
  return {
    proc: { pid, ktime },
    parent: ppid > 0 ? { pid: ppid, ktime: 0n } : undefined,
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

/** Every process in /proc, parents before children. */
export function scanProcfs(): ProcfsProcess[] {
  const all = new Map<number, ProcfsProcess>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProcess(Number(name));
    if (p) all.set(p.proc.pid, p);
  }
  for (const p of all.values()) {
    const parent = all.get(p.ppid);
    if (p.parent) p.parent.ktime = parent ? parent.proc.ktime : 0n;
  }
  return [...all.values()].sort((a, b) => (a.proc.ktime < b.proc.ktime ? -1 : a.proc.ktime > b.proc.ktime ? 1 : a.proc.pid - b.proc.pid));
}
