// vigil probe
import { probeFeatures, formatFeatures } from '../../kernel/features.js';

export async function probe(opts: { json: boolean }): Promise<void> {
  const results = probeFeatures();
  process.stdout.write(opts.json ? `${JSON.stringify(results, null, 2)}\n` : `${formatFeatures(results)}\n`);
}
