// The Kubernetes client's configuration from where the agent was told to
// find the API (source.ts): a kubeconfig file, or the pod's service account.
import { VigilError } from '../../kernel/errors.js';
import { describeSource, type K8sSource } from './source.js';

export type Client = typeof import('@kubernetes/client-node');
export type KubeConfig = InstanceType<Client['KubeConfig']>;

/** Loads the client and the credentials; a broken kubeconfig throws a usage error. */
export async function loadKubeConfig(source: K8sSource): Promise<{ k8s: Client; kc: KubeConfig }> {
  const k8s: Client = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    if (source.kind === 'kubeconfig') kc.loadFromFile(source.path);
    else kc.loadFromCluster();
  } catch (err) {
    throw new VigilError('VIGIL_USAGE', `Kubernetes: ${describeSource(source)}: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new VigilError('VIGIL_USAGE', `Kubernetes: ${describeSource(source)} names no current cluster`);
  return { k8s, kc };
}
