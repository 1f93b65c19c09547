// Test programs written in C (test/fixtures/programs/), compiled with gcc
// by the test that runs them, into its own directory: the same source
// serves the host and the stock-kernel VM.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './agent.js';

const SOURCES = join(REPO, 'test/fixtures/programs');

/** Compiles test/fixtures/programs/<name>.c into dir/<out>; returns its path. */
export function buildProgram(name: string, dir: string, opts: { out?: string; flags?: string[] } = {}): string {
  const out = join(dir, opts.out ?? name);
  execFileSync('gcc', ['-O1', '-Wall', '-Werror', ...(opts.flags ?? []), '-o', out, join(SOURCES, `${name}.c`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** exec-forms (exec-forms.c): static and not position-independent, so its int 0x80 buffers sit below 4 GiB. */
export const buildExecForms = (dir: string): string => buildProgram('exec-forms', dir, { flags: ['-static', '-no-pie'] });
