// Network deny without BPF LSM (kprobes/cgroup_connect.bpf.c): a compiled
// ConnectPlan (policies/compiler/connect.ts) loaded into cgroup/connect4|6
// and cgroup/sendmsg4|6 programs on a cgroup, the v2 root for host-wide
// rules (a policy limited to pods checks its scope first). connect() and
// unconnected sendmsg() to a denied destination fail with EPERM. Each rule
// counts its denials; with reports, each denial is also a record under the
// policy hook's id. Selectors with process filters (matchPIDs,
// matchBinaries, matchNamespaces) come as a generic hook's bound config and
// value maps, judged against the agent's process and binaries maps.
import { BpfObject } from '../../kernel/bpf/object.js';
import { bpfObjectPath } from '../../kernel/bpf/paths.js';
import { VigilError } from '../../kernel/errors.js';
import type { ConnectPlan } from '../../policies/compiler/connect.js';
import type { SharedMaps } from './shared-maps.js';
import type { EncodedHook } from '../../policies/compiler/encode.js';
import { VALUE_MAPS, valuesOf } from './generic.js';

const PROGRAMS = ['vigil_connect4', 'vigil_connect6', 'vigil_sendmsg4', 'vigil_sendmsg6'];

/** Where denial records go: the agent's ring buffer, under a hook id the agent knows. */
export interface DenyReports {
  shared: SharedMaps;
  hookId: number;
  /** Counter slot (output.h) of the records. */
  slot: number;
  /** The destination as a sock arg (daddr, dport) rather than a sockaddr. */
  sock: boolean;
}

/** The selectors' process filters: rodata vigil_hook (bindHook's bytes) and the encoded value maps. */
export interface ProcessFilters {
  config: Buffer;
  encoded: EncodedHook;
}

export class ConnectDenySensor {
  readonly name = 'connect-deny';
  private obj?: BpfObject;
  private ids: number[] = [];
  private cgroup?: string;
  private final = new Map<number, number>();

  /**
   * Loads the programs, fills the tries and attaches to cgroupDir. scope:
   * only tasks in this policy scope's cgroups are denied. process: the
   * selectors' process filters, which need the agent's maps (reports).
   */
  load(plan: ConnectPlan, cgroupDir: string, reports?: DenyReports, scope?: { fd: number }, process?: ProcessFilters): void {
    if (this.obj) throw new VigilError('VIGIL_INTERNAL', 'the connect-deny sensor is already loaded');
    if (process && !reports) throw new VigilError('VIGIL_INTERNAL', 'process filters need the agent\'s process map, which comes with reports');
    const obj = BpfObject.open(bpfObjectPath('cgroup_connect'));
    this.obj = obj;
    try {
      if (reports) {
        obj.setRodata({ report_hook: BigInt(reports.hookId), counter_slot: BigInt(reports.slot), report_sock: reports.sock ? 1n : 0n });
        reports.shared.prepare(obj);
      }
      // Scoped: the policy's scope map; host-wide: its own is never read.
      if (scope) obj.setRodata({ scoped: 1n }).reuseMap('vigil_scope', scope.fd);
      else obj.setMaxEntries('vigil_scope', 1);
      // vigil_hook holds only process filters: no arg is read, nothing is rate limited.
      const values = process ? valuesOf(process.encoded) : undefined;
      for (const name of VALUE_MAPS) obj.setMaxEntries(name, Math.max(1, values?.[name].length ?? 0));
      if (process) obj.setRodata({ vigil_hook: process.config });
      obj.setRodata(plan.rodata)
        .setMaxEntries('vigil_rate', 1)
        .setMaxEntries('connect_v4', Math.max(1, plan.v4.length))
        .setMaxEntries('connect_v6', Math.max(1, plan.v6.length))
        .load();
      const fills = [['connect_v4', plan.v4], ['connect_v6', plan.v6], ...VALUE_MAPS.map((n) => [n, values?.[n] ?? []] as const)] as const;
      for (const [name, entries] of fills) {
        if (!entries.length) continue;
        const map = obj.map(name);
        for (const e of entries) map.update(e.key, e.value);
      }
      for (const p of PROGRAMS) obj.attachCgroup(p, cgroupDir);
    } catch (err) {
      this.close();
      throw err;
    }
    this.ids = plan.ids;
    this.cgroup = cgroupDir;
  }

  /** Denials per rule id, summed over CPUs; after close(), the last values. */
  counts(): Map<number, number> {
    if (!this.obj) return new Map(this.final);
    const map = this.obj.map('connect_denied');
    const out = new Map<number, number>();
    this.ids.forEach((id, slot) => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(slot);
      out.set(id, Number(map.lookupPerCpu(key).reduce((n, v) => n + v.readBigUInt64LE(0), 0n)));
    });
    return out;
  }

  /** Pins its links under dir: the deny stays after the agent is gone. */
  pin(dir: string): void {
    this.obj?.pin(dir);
  }

  attached(): string[] {
    return this.obj?.attachedPrograms() ?? [];
  }

  /** Detaches every program and frees the maps. */
  close(): void {
    if (this.obj && this.cgroup) this.final = this.counts();
    this.obj?.close();
    this.obj = undefined;
  }
}
