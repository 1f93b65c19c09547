// Why a policy from the cluster is not in force, told where the operator
// looks: a Warning Event on the TracingPolicy object, which `kubectl
// describe` lists. The message is every error, each as
// `TracingPolicy/NAME:line:col: field.path: message`.
//
// Scale: each Event is named by the policy's UID, its generation and a
// digest of the message, so nodes that meet the same error (the usual case:
// the policy itself is wrong) collapse into one Event. The first node
// creates it; the others get 409 AlreadyExists and stop there. A restarted
// agent does not repeat itself either. Distinct errors (a kernel that lacks
// a function on some nodes) make distinct Events. docs/kubernetes-policy-state.md
// has the design and what comes after it.
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { describeError } from './pod-watch.js';
import type { KubeConfig, Client } from './client.js';

/** The API server keeps what it is given; a message this long is already unread. */
const MAX_MESSAGE = 4096;

export interface PolicyRef {
  kind: 'TracingPolicy' | 'TracingPolicyNamespaced';
  name: string;
  namespace?: string;
  uid: string;
  generation: number;
  resourceVersion?: string;
}

type CoreV1Api = InstanceType<Client['CoreV1Api']>;

export class PolicyEvents {
  private readonly api: CoreV1Api;
  private forbidden = false;
  readonly counts = { created: 0, existed: 0, failed: 0 };

  constructor(k8s: Client, kc: KubeConfig, private readonly nodeName: string, private readonly log: Logger) {
    this.api = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Posts one Warning Event on the policy; never throws. */
  async warn(ref: PolicyRef, reason: string, errors: string[], note = ''): Promise<void> {
    let message = `${errors.join('\n')}${note ? `\n${note}` : ''}\n(first reported by node ${this.nodeName})`;
    if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 40)}… (${message.length - MAX_MESSAGE + 40} more characters)`;
    const digest = createHash('sha256').update(`${ref.uid}\n${ref.generation}\n${reason}\n${errors.join('\n')}`).digest('hex').slice(0, 16);
    const namespace = ref.namespace ?? 'default';
    const now = new Date();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${ref.name}.vigil-${digest}`, namespace },
      involvedObject: {
        apiVersion: 'cilium.io/v1alpha1', kind: ref.kind, name: ref.name, uid: ref.uid,
        ...(ref.namespace ? { namespace: ref.namespace } : {}), ...(ref.resourceVersion ? { resourceVersion: ref.resourceVersion } : {}),
      },
      reason,
      message,
      type: 'Warning',
      source: { component: 'vigil', host: this.nodeName },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.api.createNamespacedEvent({ namespace, body: body as never });
      this.counts.created++;
      if (this.forbidden) this.log.info('kubernetes: events are accepted again');
      this.forbidden = false;
    } catch (err) {
      const { status, message: why } = describeError(err);
      if (status === 409) {
        this.counts.existed++;
        return;
      }
      this.counts.failed++;
      if (status === 401 || status === 403) {
        if (!this.forbidden) this.log.error({ policy: ref.name, last_error: why }, 'kubernetes: the identity may not create events: policy errors are only in the agent\'s log and vigil policy list');
        this.forbidden = true;
        return;
      }
      this.log.warn({ policy: ref.name, last_error: why }, 'kubernetes: could not post the policy\'s event');
    }
  }
}
