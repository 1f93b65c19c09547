// The agent's per-event cost without the kernel, the ring or the event
// loop: ring records laid out back to back in memory, as the ring holds
// them, for the mix of agent-throughput.ts (per iteration a clone, an
// exec, two sys_openat policy records and an exit: four events), run
// through the agent's own stages in one process, each pass adding one:
// decode; the process cache and the event objects; JSON text; the JSON
// file exporter (to a file in /tmp). Process CPU (every thread, GC
// included) per event, the median of the rounds. What the full pass
// costs is the least an event costs in this design.
//
//   node dist/benchmarks/pipeline-floor.js [--iterations N] [--rounds R]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as L from '../kernel/abi/layouts.generated.js';
import { RecordDecoder } from '../agent/decode/decode.js';
import { ProcessCache } from '../agent/process/cache.js';
import { ktimeToRfc3339 } from '../agent/process/clock.js';
import { execEvent, exitEvent } from '../agent/enrich/process-events.js';
import { policyEvent, type PolicyHook } from '../agent/enrich/policy-events.js';
import type { HookPlan } from '../policies/compiler/plan.js';
import type { TetragonEvent } from '../exporters/tetragon.js';
import { eventJson } from '../exporters/json.js';
import { JsonFileExporter } from '../exporters/json-file.js';
import { median } from './harness.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } } });
const ITERATIONS = Number(values.iterations);
const ROUNDS = Number(values.rounds);
const H = L.vigil_msg_header.offsetof;
const P = L.vigil_process_id.offsetof;
const PARENT = 4000;
const PATH = '/tmp/vigil-bench-data-XXXXXX/f';

/** Ring records back to back: each an 8-byte length header, then the record, 8-byte aligned. */
class Ring {
  readonly buf = Buffer.alloc(ITERATIONS * 1024);
  readonly records: [number, number][] = [];
  private pos = 0;

  add(op: number, size: number, ktime: bigint, fill: (b: Buffer) => void): void {
    const b = this.buf.subarray(this.pos + 8, this.pos + 8 + size);
    this.buf.writeUInt32LE(size, this.pos);
    b.writeUInt8(op, H.op);
    b.writeUInt16LE(size, H.size);
    b.writeBigUInt64LE(ktime, H.ktime);
    fill(b);
    this.records.push([this.pos + 8, size]);
    this.pos += (size + 8 + 7) & ~7;
  }
}

const id = (b: Buffer, at: number, pid: number, ktime: bigint): void => {
  b.writeUInt32LE(pid, at + P.pid);
  b.writeBigUInt64LE(ktime, at + P.ktime);
};

function records(): Ring {
  const ring = new Ring();
  const OP = L.vigil_op;
  const parent = (b: Buffer, at: number): void => id(b, at, PARENT, 1_000_000n);
  const exec = (pid: number, ktime: bigint, binary: string, args: string): void => {
    const E = L.vigil_msg_exec;
    const cwd = '/home/bench/work';
    ring.add(OP.VIGIL_OP_EXEC, E.sizeof + binary.length + args.length + cwd.length, ktime, (b) => {
      id(b, E.offsetof.proc, pid, ktime);
      if (pid !== PARENT) parent(b, E.offsetof.parent);
      b.writeUInt32LE(pid, E.offsetof.tid);
      b.writeUInt32LE(pid, E.offsetof.nspid);
      b.writeUInt32LE(1, E.offsetof.flags);
      b.writeUInt16LE(binary.length, E.offsetof.binary_len);
      b.writeUInt16LE(args.length, E.offsetof.args_len);
      b.writeUInt16LE(cwd.length, E.offsetof.cwd_len);
      b.write(binary + args + cwd, E.sizeof, 'latin1');
    });
  };
  exec(PARENT, 1_000_000n, '/usr/local/bin/spawn-storm', `spawn-storm\0${ITERATIONS}\0/usr/bin/true\0`);
  for (let i = 0; i < ITERATIONS; i++) {
    const pid = 10_000 + i;
    const t = 2_000_000_000n + BigInt(i) * 1_000_000n;
    const C = L.vigil_msg_clone;
    ring.add(OP.VIGIL_OP_CLONE, C.sizeof, t, (b) => {
      id(b, C.offsetof.proc, pid, t);
      parent(b, C.offsetof.parent);
      b.writeUInt32LE(pid, C.offsetof.tid);
    });
    exec(pid, t + 1000n, '/usr/bin/true', 'true\0');
    const G = L.vigil_msg_generic;
    for (let k = 0; k < 2; k++) {
      ring.add(OP.VIGIL_OP_GENERIC, G.sizeof + PATH.length, t + 2000n + BigInt(k), (b) => {
        id(b, G.offsetof.proc, PARENT, 1_000_000n);
        b.writeUInt32LE(PARENT, G.offsetof.tid);
        b.writeUInt32LE(1, G.offsetof.hook_id);
        b.writeUInt8(1, G.offsetof.arg_count);
        b.writeUInt16LE(PATH.length, G.offsetof.arg_len);
        b.write(PATH, G.sizeof, 'latin1');
      });
    }
    const X = L.vigil_msg_exit;
    ring.add(OP.VIGIL_OP_EXIT, X.sizeof, t + 3000n, (b) => {
      id(b, X.offsetof.proc, pid, t + 1000n);
      b.writeUInt32LE(pid, X.offsetof.tid);
    });
  }
  return ring;
}

const hook: PolicyHook = {
  functionName: '__x64_sys_openat',
  plan: { kind: 'kprobe', policyName: 'bench-data-opens', args: [{ index: 1, type: 'string' }] } as unknown as HookPlan,
};

type Stage = 'decode' | 'events' | 'json' | 'file';

/** One pass over the ring through the stages up to `upTo`; returns the events made. */
function pass(ring: Ring, upTo: Stage, dir: string): number {
  const dv = new DataView(ring.buf.buffer, ring.buf.byteOffset, ring.buf.length);
  const decoder = new RecordDecoder();
  const cache = new ProcessCache('bench-node');
  const file = upTo === 'file' ? new JsonFileExporter(join(dir, 'events.log'), { checkMs: 60_000 }) : undefined;
  let events = 0;
  let sink = 0;
  const out = (ev: TetragonEvent): void => {
    events++;
    if (upTo === 'json') sink += eventJson(ev).length;
    else file?.write(ev);
  };
  for (const [at, len] of ring.records) {
    const rec = decoder.decode(dv, at, len);
    if (!rec || upTo === 'decode') {
      if (rec && rec.op !== 'clone') events++;
      continue;
    }
    switch (rec.op) {
      case 'exec':
        out(execEvent(cache, cache.addExec(rec), ktimeToRfc3339(rec.ktime), false));
        break;
      case 'clone':
        cache.addClone(rec);
        break;
      case 'exit': {
        const node = cache.resolve(rec.proc);
        if (!node) break;
        out(exitEvent(cache, node, rec));
        cache.retire(node);
        break;
      }
      case 'generic':
        out(policyEvent(cache, hook, rec));
        break;
    }
  }
  void file?.close();
  return events + (sink & 0);
}

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-floor-'));
const ring = records();
const stages: Stage[] = ['decode', 'events', 'json', 'file'];
const samples = new Map<Stage, number[]>(stages.map((s) => [s, []]));
for (const s of stages) pass(ring, s, dir);
// Rounds alternate between the stages, so drift hits each alike.
for (let r = 0; r < ROUNDS; r++) {
  for (const s of stages) {
    const c0 = cpuNs();
    const n = pass(ring, s, dir);
    samples.get(s)!.push((cpuNs() - c0) / n);
    rmSync(join(dir, 'events.log'), { force: true });
  }
}
rmSync(dir, { recursive: true, force: true });
const ns = new Map(stages.map((s) => [s, median(samples.get(s)!)]));
const result: Record<string, number> = { iterations: ITERATIONS, rounds: ROUNDS, events_per_pass: ITERATIONS * 4 + 1 };
let before = 0;
for (const s of stages) {
  result[`${s}_cumulative_ns_per_event`] = Math.round(ns.get(s)!);
  result[`${s}_adds_ns_per_event`] = Math.round(ns.get(s)! - before);
  before = ns.get(s)!;
}
result.events_per_cpu_second_at_this_cost = Math.round(1e9 / ns.get('file')!);
console.log(JSON.stringify(result, null, 2));
