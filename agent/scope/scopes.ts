// The scopes of the loaded policies limited to pods (agent.scopes): one
// PolicyScope per policy, made when its first hook loads and shared by all
// of them, and by a new version of the policy with the same scope, so that
// a replacement keeps what Kubernetes said. It goes when its last hook does.
//
// The Kubernetes side lists them, and hears when one comes or goes:
//
//   agent.scopes.onChange((event, scope) => {
//     if (event === 'added') scope.replace(cgroupsOf(pods.filter((p) => scope.matchesPod(p))));
//   });
import type { Logger } from '../log.js';
import type { BpfMap } from '../../kernel/bpf/map.js';
import type { PolicyScope as ScopeSpec } from '../../policies/scope.js';
import { PolicyScope } from './policy-scope.js';

export { PolicyScope };
export type ScopeEvent = 'added' | 'removed';
export type ScopeListener = (event: ScopeEvent, scope: PolicyScope) => void;

interface Entry {
  scope: PolicyScope;
  refs: number;
}

export class PolicyScopes {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<ScopeListener>();

  constructor(private readonly log: Logger) {}

  /**
   * The scope a hook of policyName uses, made at the policy's first hook:
   * with the map an earlier agent's pinned hooks of the same policy and scope
   * still use (pinned()), else a new, empty one.
   */
  acquire(policyName: string, spec: ScopeSpec, pinned?: () => BpfMap | undefined): PolicyScope {
    const id = `${policyName}\n${JSON.stringify(spec)}`;
    const found = this.entries.get(id);
    if (found) {
      found.refs++;
      return found.scope;
    }
    const scope = new PolicyScope(policyName, spec, pinned?.() ?? PolicyScope.createMap());
    this.entries.set(id, { scope, refs: 1 });
    this.emit('added', scope);
    return scope;
  }

  /** A hook of the scope is gone; the last one closes the scope. */
  release(scope: PolicyScope): void {
    for (const [id, e] of this.entries) {
      if (e.scope !== scope || --e.refs > 0) continue;
      this.entries.delete(id);
      scope.close();
      this.emit('removed', scope);
    }
  }

  /** Every scope of a loaded policy. */
  list(): PolicyScope[] {
    return [...this.entries.values()].map((e) => e.scope);
  }

  /** The newest scope of a policy, by name. */
  get(policyName: string): PolicyScope | undefined {
    return this.list().filter((s) => s.policyName === policyName).at(-1);
  }

  /** Calls listener when a scope comes (its policy loaded) or goes; returns what unsubscribes. */
  onChange(listener: ScopeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ScopeEvent, scope: PolicyScope): void {
    for (const l of this.listeners) {
      try {
        l(event, scope);
      } catch (err) {
        this.log.error({ err, policy: scope.policyName, event }, 'a scope listener failed');
      }
    }
  }
}
