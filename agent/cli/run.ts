// vigil run
import { dirname, join } from 'node:path';
import { Agent } from '../agent.js';
import { PinStore } from '../sensors/pins.js';
import { createLogger } from '../log.js';
import { ancestorKinds, buildExporters, buildRedactor, type OutputOptions } from './exports.js';
import { VigilError } from '../../kernel/errors.js';
import { disableFeatures } from '../../kernel/features.js';
import { k8sSource } from '../k8s/source.js';
import { startMetrics } from './metrics.js';
import { UserNames, type UsernameMode } from '../process/users.js';

export interface RunOptions extends OutputOptions {
  policy: string[];
  policyDir?: string;
  ancestors: boolean;
  enableProcessCred: boolean;
  enableProcessNs: boolean;
  usernameMetadata: UsernameMode;
  socket: string;
  nodeName?: string;
  ringSize: number;
  disableFeature: string[];
  kubeconfig?: string;
  /** false with --no-k8s. */
  k8s: boolean;
  /** false with --no-k8s-policies. */
  k8sPolicies: boolean;
  k8sPolicySelector?: string;
  podWait: number;
  pinDir: string;
  pin: boolean;
  cleanup: boolean;
}

export async function run(opts: RunOptions): Promise<void> {
  const log = createLogger();
  if (!Number.isInteger(Math.log2(opts.ringSize)) || opts.ringSize < 4096) {
    throw new VigilError('VIGIL_USAGE', `--ring-size ${opts.ringSize} is not a power of two of at least 4096`);
  }
  disableFeatures([], opts.disableFeature);
  if (!(opts.podWait >= 0)) throw new VigilError('VIGIL_USAGE', `--pod-wait ${opts.podWait}: seconds, 0 or more`);
  if (opts.cleanup) {
    const store = new PinStore(opts.pinDir, join(dirname(opts.socket), 'pins.json'));
    const found = store.read();
    store.clear();
    log.info({ pin_dir: opts.pinDir, hooks: found.hooks.length, process_sensor: !!found.process }, 'removed the pins of an earlier agent');
    return;
  }
  const k8s = k8sSource({ kubeconfig: opts.kubeconfig, k8s: opts.k8s });
  const exporters = buildExporters(opts, log);
  const metrics = startMetrics(opts.metricsAddress, () => agent.status());

  const agent = new Agent({
    nodeName: opts.nodeName, exporters, ancestors: ancestorKinds(opts), processFields: { cred: opts.enableProcessCred, ns: opts.enableProcessNs, users: opts.usernameMetadata === 'unix' ? new UserNames() : undefined }, socketPath: opts.socket, ringBytes: opts.ringSize, log,
    policies: opts.policy, policyDir: opts.policyDir, disabledFeatures: opts.disableFeature, pin: opts.pin, pinDir: opts.pinDir,
    redact: buildRedactor(opts), observe: metrics?.observe, k8s, k8sPolicies: opts.k8sPolicies !== false, k8sPolicySelector: opts.k8sPolicySelector, podWaitMs: opts.podWait * 1000,
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= (metrics?.draining(), agent.stop().finally(() => metrics?.close())));
  const stopped = new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        log.info({ signal: sig }, 'stopping');
        stop().then(resolve, resolve);
      });
    }
  });
  // SIGHUP (logrotate's postrotate) reopens the exports and reloads policy files; it never stops the agent.
  let reloading: Promise<void> = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(() => agent.reload()).catch((err) => log.error(`reload failed: ${(err as Error).message}`));
  });
  // A bug in one path must not take every policy's enforcement down with the process: log it, count it, go on.
  process.on('uncaughtException', (err) => agent.internalError(err));
  process.on('unhandledRejection', (err) => agent.internalError(err));
  try {
    await metrics?.listen();
    await agent.start();
  } catch (err) {
    await stop().catch(() => undefined);
    if (err instanceof VigilError && err.log) log.error({ code: err.code, log: err.log }, err.message);
    throw err;
  }
  await stopped;
}
