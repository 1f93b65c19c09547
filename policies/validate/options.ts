// spec.options: policy-wide switches as Tetragon writes them, a name and a
// string value. Vigil acts on one; the others (Tetragon's loader settings,
// such as disable-kprobe-multi) have nothing to change here.
import type { TracingPolicySpec } from '../types.generated.js';
import type { Finding } from './errors.js';

/**
 * `fail-closed: "true"`: a filter on an arg Vigil could not read (a user
 * page that faults, a path longer than the buffer) matches in selectors
 * that signal or override, so an unreadable arg is enforced on rather than
 * let through. Otherwise such a filter does not match. Either way the call
 * is counted as undecided (`vigil policy list`).
 */
export const FAIL_CLOSED = 'fail-closed';

export function checkOptions(spec: TracingPolicySpec, out: Finding[]): void {
  (spec.options ?? []).forEach((o, i) => {
    if (o.name !== FAIL_CLOSED) return;
    if (o.value !== 'true' && o.value !== 'false') {
      out.push({ path: ['spec', 'options', i, 'value'], at: o.value === undefined ? 'key' : 'value', message: `${FAIL_CLOSED} takes "true" or "false", not ${JSON.stringify(o.value ?? null)}` });
    }
  });
}

/** Whether the policy asks to fail closed. */
export const failsClosed = (spec: TracingPolicySpec): boolean =>
  spec.options?.some((o) => o.name === FAIL_CLOSED && o.value === 'true') ?? false;
