// deploy/daemonset.yaml made fit for the one-node test cluster and a shared
// test machine: the API server listens on 127.0.0.1 only and Service IPs do
// not route (no kube-proxy), so the pod (host network) is pointed at
// 127.0.0.1:6443; its pins, socket and export file are its own, and it
// loads only the policies labelled for this test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO } from './agent.js';

export function testDaemonSet(run: string, selector: string): Record<string, any> {
  const ds = parse(readFileSync(join(REPO, 'deploy/daemonset.yaml'), 'utf8')) as Record<string, any>;
  ds.metadata.name = `vigil-test-${run}`;
  ds.metadata.labels = { 'app.kubernetes.io/name': `vigil-test-${run}` };
  ds.spec.selector.matchLabels = ds.metadata.labels;
  ds.spec.template.metadata.labels = ds.metadata.labels;
  const c = ds.spec.template.spec.containers[0];
  c.env.push({ name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' }, { name: 'KUBERNETES_SERVICE_PORT', value: '6443' });
  c.args.push('--socket=/tmp/vigil.sock', `--pin-dir=/sys/fs/bpf/vigil-ds-${run}`, `--k8s-policy-selector=${selector}`, '--output=compact');
  for (const v of ds.spec.template.spec.volumes) {
    if (v.name === 'run' || v.name === 'export') {
      delete v.hostPath;
      v.emptyDir = {};
    }
  }
  return ds;
}
