// Checks that Vigil can load BPF here, and mounts what it can mount
// itself (bpffs, tracefs). Each failure is one line that says what to do.
import { existsSync } from 'node:fs';
import { VigilError } from './errors.js';
import { isMounted, mountFs } from './mounts.js';
import { ensureTracefs } from './tracefs.js';

const BPFFS = '/sys/fs/bpf';

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
  if (!isMounted('bpf', BPFFS)) {
    mountFs('bpf', BPFFS, 'bpffs');
    done.push(BPFFS);
  }
  const tracefs = ensureTracefs();
  if (!tracefs.root) throw new VigilError('VIGIL_MOUNT', tracefs.problem ?? 'tracefs is not mounted', { hint: 'run: mount -t tracefs tracefs /sys/kernel/tracing' });
  if (tracefs.mounted) done.push(tracefs.mounted);
  return { mounted: done };
}
