// vigil policy list | add | delete: the running agent's policies, over its socket.
import { resolve } from 'node:path';
import { ask } from '../control/client.js';
import type { PolicyState } from '../policy/manager.js';
import type { ScopeStatus } from '../scope/policy-scope.js';
import type { LabelSelector } from '../../policies/types.generated.js';

/** A label selector as kubectl writes one: app=web,tier in (a,b),!canary. */
export function formatSelector(s: LabelSelector): string {
  const parts = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) => {
      switch (e.operator) {
        case 'In': return `${e.key} in (${(e.values ?? []).join(',')})`;
        case 'NotIn': return `${e.key} notin (${(e.values ?? []).join(',')})`;
        case 'Exists': return e.key;
        default: return `!${e.key}`;
      }
    }),
  ];
  return parts.length ? parts.join(',') : 'everything';
}

function formatScope(s: ScopeStatus): string {
  const what = [
    ...(s.namespace !== undefined ? [`namespace ${s.namespace}`] : []),
    ...(s.podSelector ? [`pods ${formatSelector(s.podSelector)}`] : []),
    ...(s.containerSelector ? [`containers ${formatSelector(s.containerSelector)}`] : []),
  ];
  return `  scope: ${what.join(', ')}: ${s.note}`;
}

/** Where a policy came from: `file PATH`, or `kubernetes TracingPolicy/NAME (generation N)`. */
export function describeSource(p: PolicyState): string {
  const s = p.source;
  if (s?.kind === 'kubernetes') return `kubernetes ${p.file} (generation ${s.generation})`;
  return `file ${p.file}`;
}

export function formatPolicies(policies: PolicyState[]): string {
  if (!policies.length) return 'no policies loaded';
  const lines: string[] = [];
  for (const p of policies) {
    lines.push(`${p.name}  ${p.state}  ${describeSource(p)}`);
    if (p.scope) lines.push(formatScope(p.scope));
    for (const e of p.errors) lines.push(`  error: ${e}`);
    for (const e of p.rejected ?? []) lines.push(`  a newer version was refused: ${e}`);
    for (const h of p.hooks) {
      if (h.state !== 'loaded') {
        lines.push(`  ${h.path}  ${h.state}: ${h.error}`);
        continue;
      }
      lines.push(`  ${h.path}  ${h.mechanism} ${h.target}  enforcement: ${h.enforcement}  matches: ${h.matches}  lost: ${h.lost}  undecided: ${h.undecided}`);
      lines.push(`    why: ${h.reason}`);
    }
  }
  return lines.join('\n');
}

export async function policyList(opts: { socket: string; json: boolean }): Promise<void> {
  const policies = (await ask(opts.socket, { op: 'policy-list' })) as PolicyState[];
  process.stdout.write(`${opts.json ? JSON.stringify(policies, null, 2) : formatPolicies(policies)}\n`);
}

/** Returns the exit code: 1 when a policy of the file did not load. */
export async function policyAdd(file: string, opts: { socket: string; json: boolean }): Promise<number> {
  const states = (await ask(opts.socket, { op: 'policy-add', path: resolve(file) })) as PolicyState[];
  process.stdout.write(`${opts.json ? JSON.stringify(states, null, 2) : formatPolicies(states)}\n`);
  return states.every((s) => s.state === 'loaded') ? 0 : 1;
}

export async function policyDelete(name: string, opts: { socket: string }): Promise<number> {
  const { deleted } = (await ask(opts.socket, { op: 'policy-delete', name })) as { deleted: boolean };
  process.stdout.write(deleted ? `deleted ${name}\n` : `no policy named ${name}\n`);
  return deleted ? 0 : 1;
}
