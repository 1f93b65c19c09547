// Which kernel a test runs on, and which BPF features it has. The suite
// runner probes once per kernel (`vigil probe`'s checks) and hands the
// result to every test file in VIGIL_FEATURES.
import { release } from 'node:os';
import type { FeatureResult } from '../../kernel/features.js';

export const KERNEL = process.env.VIGIL_KERNEL ?? `host-${release()}`;

let cached: FeatureResult[] | undefined;

async function features(): Promise<FeatureResult[]> {
  if (!cached) {
    cached = process.env.VIGIL_FEATURES
      ? (JSON.parse(process.env.VIGIL_FEATURES) as FeatureResult[])
      : (await import('../../kernel/features.js')).probeFeatures();
  }
  return cached;
}

/** The skip reason for a test needing `wanted`, or false when the kernel has them all. */
export async function lacking(wanted: string[]): Promise<string | false> {
  const have = await features();
  const missing = wanted.filter((f) => !have.find((r) => r.feature === f)?.works);
  return missing.length ? `needs ${missing.join(', ')}: kernel ${KERNEL} lacks it` : false;
}

/** Matches the reasons lacking() writes, so the runner can tell them from other skips. */
export const FEATURE_SKIP = /^needs ([\w, ]+): kernel (\S+) lacks it$/;

/** Whether the kernel has every one of these features. */
export async function hasFeatures(wanted: string[]): Promise<boolean> {
  return (await lacking(wanted)) === false;
}

/** How much slower time-bound checks may be on this kernel: the stock kernel runs under software emulation. */
export const SLOWDOWN = KERNEL.startsWith('stock') ? 5 : 1;
