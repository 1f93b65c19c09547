// The scope of a policy: which processes it may act on. A TracingPolicy
// without selectors acts on every process of the host. A
// TracingPolicyNamespaced acts only on processes in pods of its namespace,
// and a podSelector or containerSelector (on either kind) narrows it to the
// pods, and the containers of those pods, that they select. Only Kubernetes
// knows which pods those are; the kernel side only sees cgroups, which the
// agent is told about (agent/scope/).
import type { LabelSelector, TracingPolicy } from './types.generated.js';

export interface PolicyScope {
  /** TracingPolicyNamespaced: the namespace of its pods. */
  namespace?: string;
  /** Pods whose labels it matches; absent: every pod (of the namespace). */
  podSelector?: LabelSelector;
  /** Containers whose name it matches (the one label, `name`); absent: every container of a selected pod. */
  containerSelector?: LabelSelector;
}

/** A policy's scope, and the field that makes it one (errors about the scope name it); undefined: host-wide. */
export function scopeOf(policy: TracingPolicy): { scope: PolicyScope; path: string } | undefined {
  const { spec, metadata } = policy;
  const namespaced = policy.kind === 'TracingPolicyNamespaced';
  if (!namespaced && !spec?.podSelector && !spec?.containerSelector) return undefined;
  const scope: PolicyScope = {
    ...(namespaced ? { namespace: metadata.namespace } : {}),
    ...(spec?.podSelector ? { podSelector: spec.podSelector } : {}),
    ...(spec?.containerSelector ? { containerSelector: spec.containerSelector } : {}),
  };
  const path = namespaced ? 'metadata.namespace' : spec?.podSelector ? 'spec.podSelector' : 'spec.containerSelector';
  return { scope, path };
}

/** A Kubernetes object's labels. */
export type Labels = Readonly<Record<string, string | undefined>>;

/**
 * Whether labels satisfy a Kubernetes label selector: every matchLabels
 * pair and every matchExpressions requirement (In: the key is there with
 * one of the values; NotIn: it is not, or has none of them; Exists;
 * DoesNotExist). An empty selector, or none, selects everything.
 */
export function labelsMatch(selector: LabelSelector | undefined, labels: Labels): boolean {
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(labels, k) && labels[k] !== undefined;
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) {
    if (!has(k) || labels[k] !== v) return false;
  }
  for (const e of selector?.matchExpressions ?? []) {
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In': if (!has(e.key) || !values.includes(labels[e.key]!)) return false; break;
      case 'NotIn': if (has(e.key) && values.includes(labels[e.key]!)) return false; break;
      case 'Exists': if (!has(e.key)) return false; break;
      case 'DoesNotExist': if (has(e.key)) return false; break;
      default: return false; // an operator the schema does not know selects nothing
    }
  }
  return true;
}

/** Whether a pod is in the scope: in its namespace (namespaced policies), and selected by its podSelector. */
export function podInScope(scope: PolicyScope, pod: { namespace: string; labels?: Labels }): boolean {
  if (scope.namespace !== undefined && pod.namespace !== scope.namespace) return false;
  return labelsMatch(scope.podSelector, pod.labels ?? {});
}

/** Whether a container of a pod in the scope is in it: containerSelector matches its name as the label `name`, as Tetragon's does. */
export function containerInScope(scope: PolicyScope, container: { name: string }): boolean {
  return labelsMatch(scope.containerSelector, { name: container.name });
}

/**
 * Which cgroups stand for the scope in the kernel. 'pod': the pod's cgroup,
 * which holds every container of the pod (its sandbox, init and ephemeral
 * containers too) and exists before they start. 'container': each selected
 * container's own cgroup, as a containerSelector picks some containers of
 * a pod and not others.
 */
export const scopeLevel = (scope: PolicyScope): 'pod' | 'container' => (scope.containerSelector ? 'container' : 'pod');
