// An in-process agent for policy tests: the real pipeline (sensors, ring
// buffer, decoder, process cache, enrichment, JSON file exporter), with
// hook plans loaded through agent.loadHook(), or policy files at start.
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { createLogger } from '../../agent/log.js';
import { JsonFileExporter } from '../../exporters/json-file.js';
import type { FeatureResult } from '../../kernel/features.js';
import type { TetragonEvent } from '../../exporters/tetragon.js';
import type { HookPlan, SelectorPlan } from '../../policies/compiler/plan.js';
import { completeLines, pollFor } from './agent.js';
import { checkExportFile } from './export-lines.js';

export const NODE_NAME = 'vigil-test';

export interface PolicyAgent {
  agent: Agent;
  dir: string;
  events: () => TetragonEvent[];
  waitFor: (pred: (ev: TetragonEvent) => boolean, what: string, timeoutMs?: number) => Promise<TetragonEvent>;
  stop: () => Promise<void>;
}

/** The suite's probe result (VIGIL_FEATURES), so the agent does not probe again. */
export function suiteFeatures(): FeatureResult[] | undefined {
  return process.env.VIGIL_FEATURES ? (JSON.parse(process.env.VIGIL_FEATURES) as FeatureResult[]) : undefined;
}

/** dir: where the socket, the pin state and the events go (default: a new one); its pins go in /sys/fs/bpf/<its name>. */
export async function startPolicyAgent(opts: { features?: FeatureResult[]; policies?: string[]; dir?: string } = {}): Promise<PolicyAgent> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'vigil-policy-'));
  const file = join(dir, 'events.log');
  const agent = new Agent({
    nodeName: NODE_NAME, exporters: [new JsonFileExporter(file)], ancestors: false, socketPath: join(dir, 'vigil.sock'),
    ringBytes: 4 << 20, log: createLogger(process.env.VIGIL_LOG_LEVEL ?? 'warn'), features: opts.features ?? suiteFeatures(),
    pinDir: `/sys/fs/bpf/${basename(dir)}`, policies: opts.policies,
  });
  await agent.start();
  const events = (): TetragonEvent[] =>
    existsSync(file) ? completeLines(readFileSync(file, 'utf8')).map((l) => JSON.parse(l) as TetragonEvent) : [];
  return {
    agent, dir, events,
    waitFor: (pred, what, timeoutMs) => pollFor(events, pred, what, timeoutMs),
    async stop() {
      await agent.stop();
      try {
        // Every line it exported is one Tetragon would write.
        checkExportFile(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A selector with only what is given; no actions is Post. */
export const selector = (s: Partial<SelectorPlan>): SelectorPlan => ({ matchArgs: [], matchPIDs: [], matchBinaries: [], matchActions: [], ...s });

/** A `syscall: true` kprobe plan, as the policy front-end would compile it. */
export function syscallPlan(call: string, args: HookPlan['args'], selectors: SelectorPlan[], policyName = 'test-policy'): HookPlan {
  return { policyName, hookIndex: 0, kind: 'kprobe', target: { function: call }, syscall: true, args, selectors };
}

/** The policy event of any kind in ev, if it is one. */
export const policyBody = (ev: TetragonEvent) => ev.process_kprobe ?? ev.process_tracepoint ?? ev.process_uprobe ?? ev.process_lsm;
