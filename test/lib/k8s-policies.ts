// Helpers for the tests of policies from the cluster: the deploy/ RBAC
// applied for real, a kubeconfig for a service account's own token, and
// TracingPolicy objects that kill one test binary.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { kubectl, kubectlOk, type Cluster } from './cluster.js';
import { REPO, runCommand, VIGIL } from './agent.js';
import type { PolicyState } from '../../agent/policy/manager.js';

/** Applies deploy/crds and waits for the API server to serve them. */
export function applyCrds(): void {
  kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(REPO, 'deploy/crds')]);
  const wait = ['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/tracingpolicies.cilium.io', 'crd/tracingpoliciesnamespaced.cilium.io'];
  // A CRD the API server has not given a status yet makes kubectl wait fail at once ("accessor error"), not wait.
  for (let i = 0; i < 20 && /accessor error/.test(kubectl(wait).stderr); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  kubectlOk(wait);
}

/** A kubeconfig that authenticates with this token, on the test cluster's server and CA. */
export function tokenKubeconfig(cluster: Cluster, user: string, token: string): string {
  const server = /server: (\S+)/.exec(readFileSync(cluster.agentKubeconfig, 'utf8'))![1];
  const path = join(mkdtempSync(join(tmpdir(), 'vigil-sa-')), 'kubeconfig');
  writeFileSync(path, [
    'apiVersion: v1', 'kind: Config', 'current-context: sa',
    'clusters:', '- name: c', '  cluster:', `    server: ${server}`, `    certificate-authority: ${join(cluster.runDir, 'pki/ca.crt')}`,
    'users:', `- name: ${user}`, '  user:', `    token: ${token}`,
    'contexts:', '- name: sa', `  context: {cluster: c, user: ${user}}`, '',
  ].join('\n'), { mode: 0o600 });
  return path;
}

/** A token of the service account, from the API server (TokenRequest). */
export const serviceAccountToken = (ns: string, sa: string): string => kubectlOk(['-n', ns, 'create', 'token', sa, '--duration', '1h']).trim();

/** Copies of /bin/sleep outside /tmp (a library policy kills execs from /tmp), for policies to kill by path. */
export function victims(names: string[]): Record<string, string> {
  const dir = mkdtempSync(join(REPO, 'build', 'k8s-policy-victims-'));
  return Object.fromEntries(names.map((n) => {
    const p = join(dir, n);
    copyFileSync('/bin/sleep', p);
    return [n, p];
  }));
}


/** A TracingPolicy that kills whoever execs `binary` (an exact path). */
export function killPolicy(name: string, labels: Record<string, string>, binary: string, call = 'sys_execve'): string {
  return JSON.stringify({
    apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name, labels },
    spec: {
      kprobes: [{
        call, syscall: true, args: [{ index: 0, type: 'string' }],
        selectors: [{ matchArgs: [{ index: 0, operator: 'Equal', values: [binary] }], matchActions: [{ action: 'Sigkill' }] }],
      }],
    },
  });
}

/** Runs the binary for 0 s: how it ended. */
export async function fate(binary: string): Promise<'killed' | 'ran'> {
  const r = await runCommand(binary, ['0']);
  return r.signal === 'SIGKILL' ? 'killed' : r.code === 0 ? 'ran' : (() => { throw new Error(`${binary}: exit ${r.code} ${r.signal}`); })();
}

export async function policyList(socket: string): Promise<PolicyState[]> {
  const r = await runCommand(process.execPath, [VIGIL, 'policy', 'list', '--json', '--socket', socket]);
  return JSON.parse(r.stdout) as PolicyState[];
}

export { kubectl };
