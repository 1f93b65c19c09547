// Policy scopes (policies/scope.ts): which policies are scoped and where
// the scope is written, and the label selector evaluator the Kubernetes
// side uses to say which pods and containers are in a scope.
import t from 'tap';
import { containerInScope, labelsMatch, podInScope, scopeLevel, scopeOf, type PolicyScope } from '../../policies/scope.js';
import type { LabelSelector, TracingPolicy } from '../../policies/types.generated.js';

const policy = (kind: TracingPolicy['kind'], spec: TracingPolicy['spec'] = {}, namespace?: string): TracingPolicy =>
  ({ apiVersion: 'cilium.io/v1alpha1', kind, metadata: { name: 'p', ...(namespace ? { namespace } : {}) }, spec });

t.test('the scope of a policy, and the field that makes it one', async (t) => {
  t.equal(scopeOf(policy('TracingPolicy')), undefined, 'a TracingPolicy without selectors is host-wide');
  t.same(scopeOf(policy('TracingPolicyNamespaced', {}, 'web')), { scope: { namespace: 'web' }, path: 'metadata.namespace' });
  t.same(scopeOf(policy('TracingPolicy', { podSelector: {} })), { scope: { podSelector: {} }, path: 'spec.podSelector' },
    'an empty podSelector: every pod, and no host process');
  const sel: LabelSelector = { matchLabels: { name: 'main' } };
  t.same(scopeOf(policy('TracingPolicy', { containerSelector: sel })), { scope: { containerSelector: sel }, path: 'spec.containerSelector' });
  t.same(scopeOf(policy('TracingPolicyNamespaced', { podSelector: { matchLabels: { app: 'a' } }, containerSelector: sel }, 'ns')), {
    scope: { namespace: 'ns', podSelector: { matchLabels: { app: 'a' } }, containerSelector: sel }, path: 'metadata.namespace',
  });
});

t.test('label selectors: matchLabels and matchExpressions, all of them', async (t) => {
  const labels = { app: 'web', tier: 'frontend', canary: '' };
  const yes = (s: LabelSelector | undefined, why: string) => t.ok(labelsMatch(s, labels), why);
  const no = (s: LabelSelector, why: string) => t.notOk(labelsMatch(s, labels), why);
  yes(undefined, 'no selector selects everything');
  yes({}, 'an empty selector selects everything');
  yes({ matchLabels: {}, matchExpressions: [] }, 'empty lists too');
  yes({ matchLabels: { app: 'web' } }, 'matchLabels: an equal value');
  no({ matchLabels: { app: 'db' } }, 'matchLabels: another value');
  no({ matchLabels: { zone: 'a' } }, 'matchLabels: a missing key');
  yes({ matchLabels: { canary: '' } }, 'matchLabels: an empty value is a value');
  yes({ matchLabels: { app: 'web', tier: 'frontend' } }, 'matchLabels: all pairs');
  no({ matchLabels: { app: 'web', tier: 'backend' } }, 'matchLabels: one pair off is enough to fail');
  yes({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend', 'frontend'] }] }, 'In: one of the values');
  no({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }] }, 'In: none of the values');
  no({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, 'In: a missing key');
  no({ matchExpressions: [{ key: 'tier', operator: 'In', values: [] }] }, 'In: no values selects nothing');
  yes({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }] }, 'NotIn: none of the values');
  no({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['frontend'] }] }, 'NotIn: one of the values');
  yes({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, 'NotIn: a missing key is not in the values');
  yes({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] }, 'Exists, with an empty value');
  no({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, 'Exists: missing');
  yes({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, 'DoesNotExist');
  no({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, 'DoesNotExist: present');
  no({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] }, 'matchLabels and matchExpressions AND');
  no({ matchExpressions: [{ key: 'app', operator: 'Exists' }, { key: 'tier', operator: 'In', values: ['backend'] }] }, 'expressions AND');
  no({ matchExpressions: [{ key: 'app', operator: 'Gt' as never, values: ['1'] }] }, 'an unknown operator selects nothing');
  t.notOk(labelsMatch({ matchLabels: { toString: 'x' } }, {}), 'keys are the object\'s own, never inherited');
  t.notOk(labelsMatch({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {}));
});

t.test('pods and containers in a scope', async (t) => {
  const scope: PolicyScope = {
    namespace: 'shop', podSelector: { matchLabels: { app: 'web' } },
    containerSelector: { matchExpressions: [{ key: 'name', operator: 'NotIn', values: ['istio-proxy'] }] },
  };
  t.ok(podInScope(scope, { namespace: 'shop', labels: { app: 'web', pod: 'x' } }));
  t.notOk(podInScope(scope, { namespace: 'other', labels: { app: 'web' } }), 'another namespace');
  t.notOk(podInScope(scope, { namespace: 'shop', labels: { app: 'db' } }), 'other labels');
  t.notOk(podInScope(scope, { namespace: 'shop' }), 'no labels');
  t.ok(podInScope({ podSelector: {} }, { namespace: 'any' }), 'a cluster-wide policy with an empty podSelector: every pod');
  t.ok(podInScope({ namespace: 'shop' }, { namespace: 'shop', labels: { a: 'b' } }), 'namespaced without podSelector: every pod of the namespace');
  t.ok(containerInScope(scope, { name: 'main' }));
  t.notOk(containerInScope(scope, { name: 'istio-proxy' }));
  t.ok(containerInScope({ namespace: 'shop' }, { name: 'anything' }), 'no containerSelector: every container');
  t.notOk(containerInScope({ containerSelector: { matchLabels: { app: 'web' } } }, { name: 'main' }), 'containers have no labels but name');
  t.equal(scopeLevel(scope), 'container', 'a containerSelector: container cgroups');
  t.equal(scopeLevel({ namespace: 'shop', podSelector: {} }), 'pod', 'otherwise pod cgroups');
});
