// When Kubernetes is on: --kubeconfig, or in a pod; never with --no-k8s;
// $KUBECONFIG is not read.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { k8sSource } from '../../agent/k8s/source.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-source-'));
const kubeconfig = join(dir, 'kubeconfig');
const token = join(dir, 'token');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');
writeFileSync(token, 'x');
const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

t.test('on with --kubeconfig, or in a pod with its service account; off otherwise', async (t) => {
  t.same(k8sSource({ kubeconfig }, {}, token), { kind: 'kubeconfig', path: kubeconfig });
  t.same(k8sSource({ kubeconfig }, inPod, token), { kind: 'kubeconfig', path: kubeconfig }, '--kubeconfig wins in a pod');
  t.same(k8sSource({}, inPod, token), { kind: 'in-cluster' });
  t.equal(k8sSource({}, inPod, join(dir, 'no-token')), undefined, 'no service account token mounted');
  t.equal(k8sSource({}, { KUBECONFIG: kubeconfig }, token), undefined, '$KUBECONFIG is not read');
  t.equal(k8sSource({}, {}, token), undefined);
});

t.test('--no-k8s turns it off; an unreadable --kubeconfig is a usage error', async (t) => {
  t.equal(k8sSource({ kubeconfig, k8s: false }, inPod, token), undefined);
  t.throws(() => k8sSource({ kubeconfig: join(dir, 'missing') }, {}, token), { code: 'VIGIL_USAGE', message: /cannot read it/ });
});
