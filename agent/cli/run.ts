// vigil run
import { Agent } from '../agent.js';
import { createLogger } from '../log.js';
import { JsonFileExporter } from '../../exporters/json-file.js';
import { StdoutExporter } from '../../exporters/stdout.js';
import type { Exporter } from '../../exporters/exporter.js';
import { VigilError } from '../../kernel/errors.js';
import { disableFeatures } from '../../kernel/features.js';
import { k8sSource } from '../k8s/source.js';

export interface RunOptions {
  policy: string[];
  policyDir?: string;
  exportFile: string | false;
  output: 'compact' | 'json' | 'none';
  ancestors: boolean;
  socket: string;
  nodeName?: string;
  ringSize: number;
  disableFeature: string[];
  kubeconfig?: string;
  /** false with --no-k8s. */
  k8s: boolean;
  podWait: number;
}

export async function run(opts: RunOptions): Promise<void> {
  const log = createLogger();
  if (!Number.isInteger(Math.log2(opts.ringSize)) || opts.ringSize < 4096) {
    throw new VigilError('VIGIL_USAGE', `--ring-size ${opts.ringSize} is not a power of two of at least 4096`);
  }
  disableFeatures([], opts.disableFeature);
  if (!(opts.podWait >= 0)) throw new VigilError('VIGIL_USAGE', `--pod-wait ${opts.podWait}: seconds, 0 or more`);
  const k8s = k8sSource({ kubeconfig: opts.kubeconfig, k8s: opts.k8s });
  const exporters: Exporter[] = [];
  if (opts.exportFile) exporters.push(new JsonFileExporter(opts.exportFile, { log }));
  if (opts.output !== 'none') exporters.push(new StdoutExporter(opts.output, process.stdout, log));

  const agent = new Agent({
    nodeName: opts.nodeName, exporters, ancestors: opts.ancestors, socketPath: opts.socket, ringBytes: opts.ringSize, log,
    policies: opts.policy, policyDir: opts.policyDir, disabledFeatures: opts.disableFeature, k8s, podWaitMs: opts.podWait * 1000,
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= agent.stop());
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
    await agent.start();
  } catch (err) {
    await stop().catch(() => undefined);
    if (err instanceof VigilError && err.log) log.error({ code: err.code, log: err.log }, err.message);
    throw err;
  }
  await stopped;
}
