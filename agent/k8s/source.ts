// Where the agent finds the Kubernetes API, if anywhere. Kubernetes is on
// when `--kubeconfig PATH` is given, or when the agent runs in a pod
// (KUBERNETES_SERVICE_HOST and the service account's token are there);
// `--no-k8s` turns it off. $KUBECONFIG is not read: an agent run by hand as
// root should not pick up an admin's credentials unasked.
import { accessSync, constants } from 'node:fs';
import { VigilError } from '../../kernel/errors.js';

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export type K8sSource = { kind: 'kubeconfig'; path: string } | { kind: 'in-cluster' };

export interface K8sSourceOptions {
  kubeconfig?: string;
  /** false with --no-k8s. */
  k8s?: boolean;
}

const readable = (p: string): boolean => {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
};

export function k8sSource(opts: K8sSourceOptions, env: NodeJS.ProcessEnv = process.env, token = SERVICE_ACCOUNT_TOKEN): K8sSource | undefined {
  if (opts.k8s === false) return undefined;
  if (opts.kubeconfig) {
    if (!readable(opts.kubeconfig)) throw new VigilError('VIGIL_USAGE', `--kubeconfig ${opts.kubeconfig}: cannot read it`);
    return { kind: 'kubeconfig', path: opts.kubeconfig };
  }
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && readable(token)) return { kind: 'in-cluster' };
  return undefined;
}

export const describeSource = (s: K8sSource): string => (s.kind === 'kubeconfig' ? `kubeconfig ${s.path}` : 'in-cluster service account');
