// Checks that Vigil can load BPF here, and mounts what it can mount
// itself. Each failure is one line that says what to do.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { VigilError } from '../errors.js';

const MOUNTS = [
  { type: 'bpf', path: '/sys/fs/bpf', why: 'bpffs' },
  { type: 'tracefs', path: '/sys/kernel/tracing', why: 'tracefs (tracepoint ids)' },
];

function mounted(type: string, path: string): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => {
      const [, mnt, fstype] = l.split(' ');
      return mnt === path && fstype === type;
    });
}

export interface PreflightResult {
  mounted: string[];
}

export function preflight(): PreflightResult {
  if (process.getuid?.() !== 0) {
    throw new VigilError('VIGIL_NOT_ROOT', 'Vigil must run as root', { hint: 'run it with sudo, or as root' });
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    throw new VigilError('VIGIL_NO_BTF', 'this kernel exposes no BTF at /sys/kernel/btf/vmlinux', {
      hint: 'boot a kernel built with CONFIG_DEBUG_INFO_BTF=y',
    });
  }
  const done: string[] = [];
  for (const m of MOUNTS) {
    if (mounted(m.type, m.path)) continue;
    try {
      execFileSync('mount', ['-t', m.type, m.type, m.path], { stdio: 'pipe' });
      done.push(m.path);
    } catch (err) {
      throw new VigilError('VIGIL_MOUNT', `${m.why} is not mounted at ${m.path} and mounting it failed`, {
        hint: `run: mount -t ${m.type} ${m.type} ${m.path}`,
        cause: err,
      });
    }
  }
  return { mounted: done };
}
