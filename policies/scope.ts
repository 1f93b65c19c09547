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
