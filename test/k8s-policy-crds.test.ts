// The CustomResourceDefinitions in deploy/crds/ on a real API server: it
// accepts them, takes the policies Vigil's schema takes, and refuses what
// the schema refuses (an unknown field, a value outside an enum, a string
// where a number belongs), with the field's path in its answer.
import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNamespace, deleteNamespace, ensureCluster, kubectl, kubectlOk } from './lib/cluster.js';
import { REPO } from './lib/agent.js';

const NS = `vigil-crds-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'vigil-crds-'));

t.before(async () => {
  ensureCluster();
  kubectlOk(['apply', '--server-side', '-f', join(REPO, 'deploy/crds')]);
  kubectlOk(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/tracingpolicies.cilium.io', 'crd/tracingpoliciesnamespaced.cilium.io']);
  await createNamespace(NS);
});
t.teardown(() => {
  kubectl(['delete', 'tracingpolicies', '--all']);
  deleteNamespace(NS, false);
  rmSync(dir, { recursive: true, force: true });
});

const apply = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return kubectl(['apply', '-f', file]);
};

const policy = (kind: string, name: string, body: string): string => `apiVersion: cilium.io/v1alpha1
kind: ${kind}
metadata:
  name: ${name}
${kind === 'TracingPolicyNamespaced' ? `  namespace: ${NS}\n` : ''}spec:
${body}`;

t.test('the library and the valid fixtures are accepted as they are', async (t) => {
  for (const file of ['policies/library/exec-from-tmp-kill.yaml', 'policies/library/deny-egress-cidr.yaml', 'test/fixtures/policies/valid/network.yaml', 'test/fixtures/policies/valid/tracepoints.yaml']) {
    const r = kubectl(['apply', '-f', join(REPO, file)]);
    t.equal(r.status, 0, `${file}: ${r.stdout}${r.stderr}`);
  }
  const r = apply('ns.yaml', readFileSync(join(REPO, 'test/fixtures/policies/valid/lists.yaml'), 'utf8').replaceAll('namespace: "default"', `namespace: ${NS}`));
  t.equal(r.status, 0, `a TracingPolicyNamespaced: ${r.stderr}`);
  t.match(kubectlOk(['get', 'tracingpoliciesnamespaced', '-n', NS, '-o', 'name']), /lists/);
});

t.test('what the schema refuses, the API server refuses, naming the field', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['unknown field', '  kprobes:\n  - call: sys_openat\n    sycall: true\n', /unknown field "spec\.kprobes\[0\]\.sycall"/],
    ['enum', '  kprobes:\n  - call: sys_openat\n    args:\n    - index: 0\n      type: strng\n', /spec\.kprobes\[0\]\.args\[0\]\.type: Unsupported value: "strng"/],
    ['type', '  kprobes:\n  - call: sys_openat\n    args:\n    - index: zero\n      type: int\n', /spec\.kprobes\[0\]\.args\[0\]\.index: Invalid value: "string"/],
    ['operator', '  kprobes:\n  - call: sys_openat\n    selectors:\n    - matchArgs:\n      - index: 0\n        operator: Prefx\n        values: ["/"]\n', /operator: Unsupported value: "Prefx"/],
  ];
  for (const [what, body, want] of cases) {
    const r = apply(`bad-${what.replace(' ', '-')}.yaml`, policy('TracingPolicy', `bad-${what.replace(' ', '-')}`, body));
    t.not(r.status, 0, `${what}: refused`);
    t.match(r.stderr, want, `${what}: ${r.stderr.trim()}`);
  }
});
