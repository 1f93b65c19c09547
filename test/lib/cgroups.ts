// Real cgroup v2 directories for tests of policies limited to pods: a
// "pod" with a "container" below it and another cgroup beside it, as the
// kubelet lays pods out, and commands run inside one of them.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Root } from '../../kernel/cgroup.js';

export interface TestCgroups {
  /** <cgroup2>/vigil-<name>-<pid>: holds the others. */
  base: string;
  /** base/pod: a pod's cgroup. */
  pod: string;
  /** base/pod/ctr: a container's, below its pod. */
  ctr: string;
  /** base/other: a cgroup outside the pod. */
  other: string;
  /** rmdir, deepest first. */
  remove(): void;
}

export function makeCgroups(name: string): TestCgroups {
  const base = join(cgroup2Root(), `vigil-${name}-${process.pid}`);
  const pod = join(base, 'pod');
  const ctr = join(pod, 'ctr');
  const other = join(base, 'other');
  for (const d of [base, pod, ctr, other]) mkdirSync(d, { recursive: true });
  return {
    base, pod, ctr, other,
    remove: () => {
      for (const d of [ctr, pod, other, base]) if (existsSync(d)) rmdirSync(d);
    },
  };
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs cmd from a shell that first moves itself into cgroup (none: it stays in the test's own cgroup), then execs cmd. */
export function runIn(cgroup: string | undefined, cmd: string, args: string[] = []): Promise<Ran> {
  const script = cgroup ? 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' : 'shift && exec "$@"';
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', script, 'sh', cgroup ?? '', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.once('error', reject);
    c.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}
