// spec.lists: named function lists, used as `call: "list:NAME"`.
import type { TracingPolicySpec } from '../types.generated.js';
import type { Finding } from './errors.js';
import { overLimit } from './limits.js';
import { hint } from './suggest.js';

/** Why `list:NAME` does not resolve, or undefined. */
export function listRefProblem(name: string, spec: TracingPolicySpec): string | undefined {
  const names = (spec.lists ?? []).map((l) => l.name);
  if (names.includes(name)) return undefined;
  if (!names.length) return `list "${name}" is not defined: the policy has no spec.lists`;
  return `list "${name}" is not defined in spec.lists${hint(name, names)}`;
}

export function checkLists(spec: TracingPolicySpec, out: Finding[]): void {
  const seen = new Set<string>();
  (spec.lists ?? []).forEach((list, i) => {
    const path = ['spec', 'lists', i];
    if (seen.has(list.name)) out.push({ path: [...path, 'name'], message: `list "${list.name}" is defined twice` });
    seen.add(list.name);
    const generated = list.type === 'generated_syscalls' || list.type === 'generated_ftrace';
    if (generated && list.values?.length) {
      out.push({ path: [...path, 'values'], at: 'key', message: `a ${list.type} list is filled by the kernel's functions; it takes no values` });
    }
    if (!generated && !list.values?.length) out.push({ path, message: 'the list has no values' });
    if (list.type === 'generated_ftrace' && list.pattern === undefined) {
      out.push({ path, message: 'a generated_ftrace list needs a pattern' });
    }
    if (list.pattern !== undefined && list.type !== 'generated_ftrace') {
      out.push({ path: [...path, 'pattern'], at: 'key', message: 'pattern applies only to generated_ftrace lists' });
    } else if (list.pattern !== undefined) {
      try {
        new RegExp(list.pattern);
      } catch (err) {
        out.push({ path: [...path, 'pattern'], message: `pattern is not a regular expression: ${(err as Error).message}` });
      }
    }
    overLimit(out, [...path, 'values'], list.values?.length ?? 0, 'functionsPerList', 'functions');
  });
}
