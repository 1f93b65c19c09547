// What the agent pins in bpffs so that enforcement outlives it (a crash, a
// kill -9, an upgrade), and what it finds pinned when it starts:
//
//   /sys/fs/bpf/vigil/process/     the process sensor's links and the maps it
//                                  shares (ring buffer, counters, process map…)
//   /sys/fs/bpf/vigil/hooks/<id>/  each enforcing hook's links
//   /run/vigil/pins.json           what each pin is: fingerprints, hook ids,
//                                  counter slots, followChildren bits and the
//                                  compiled hook, so a restarted agent adopts
//                                  them instead of attaching twice
//
// A fingerprint covers the BPF object and the bytes a hook was loaded with:
// a pin made by another build, or for another version of the policy, is
// never adopted; it is removed once what replaces it is attached.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bpfObjectPath } from '../../kernel/bpf/paths.js';
import { PIN_ROOT, pinsIn, unpin } from '../../kernel/bpf/pins.js';
import type { CompiledHook } from '../../policies/compiler/compile.js';

export const PIN_STATE = '/run/vigil/pins.json';

export interface PinnedHook {
  hookId: number;
  slot: number;
  fingerprint: string;
  /** followChildren bits it was given, and the binaries each follows. */
  follow: { bit: number; values: string[] }[];
  compiled: CompiledHook;
}

export interface PinState {
  /** The process sensor's fingerprint, when it is pinned. */
  process?: string;
  hooks: PinnedHook[];
}

/** JSON that keeps Buffers and bigints. */
const replacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? { $bigint: v.toString() } : v);
const reviver = (_k: string, v: unknown): unknown => {
  if (v && typeof v === 'object') {
    const o = v as { type?: string; data?: number[]; $bigint?: string };
    if (o.type === 'Buffer' && Array.isArray(o.data)) return Buffer.from(o.data);
    if (typeof o.$bigint === 'string') return BigInt(o.$bigint);
  }
  return v;
};

const objectHashes = new Map<string, string>();

/** sha256 of a built BPF object, read once. */
function objectHash(object: string): string {
  let h = objectHashes.get(object);
  if (!h) {
    h = createHash('sha256').update(readFileSync(bpfObjectPath(object))).digest('hex');
    objectHashes.set(object, h);
  }
  return h;
}

export class PinStore {
  constructor(readonly root: string = PIN_ROOT, readonly stateFile: string = PIN_STATE) {}

  /** The process sensor of one fingerprint: a new build's sits beside an old one until the old is pruned. */
  processDir(fingerprint: string): string {
    return join(this.root, `process-${fingerprint.slice(0, 16)}`);
  }

  hookDir(hookId: number): string {
    return join(this.root, 'hooks', String(hookId));
  }

  /** The process sensor as loaded with this ring size by this build. */
  processFingerprint(ringBytes: number): string {
    return createHash('sha256').update(`${objectHash('process')}:${ringBytes}`).digest('hex');
  }

  /** A compiled hook on top of a process sensor: adopted only if both are what they were. */
  hookFingerprint(hook: CompiledHook, processFingerprint: string): string {
    const object = hook.kind === 'connect' ? 'cgroup_connect' : hook.choice.object;
    return createHash('sha256').update(`${objectHash(object)}:${processFingerprint}:${JSON.stringify(hook, replacer)}`).digest('hex');
  }

  /** What is pinned and recorded; records whose pins are gone are left out. */
  read(): PinState {
    let state: PinState;
    try {
      state = JSON.parse(readFileSync(this.stateFile, 'utf8'), reviver) as PinState;
    } catch {
      return { hooks: [] };
    }
    return {
      ...(state.process && pinsIn(this.processDir(state.process)).length ? { process: state.process } : {}),
      hooks: (state.hooks ?? []).filter((h) => pinsIn(this.hookDir(h.hookId)).length),
    };
  }

  /** Removes every pin but the process sensor of `keep` and the hooks whose ids are kept. */
  prune(keep: string | undefined, hookIds: ReadonlySet<number>): string[] {
    const removed: string[] = [];
    for (const dir of pinsIn(this.root)) {
      if (dir.endsWith('/hooks') || (keep && dir === this.processDir(keep))) continue;
      unpin(dir);
      removed.push(dir);
    }
    for (const dir of pinsIn(join(this.root, 'hooks'))) {
      if (hookIds.has(Number(dir.slice(dir.lastIndexOf('/') + 1)))) continue;
      unpin(dir);
      removed.push(dir);
    }
    return removed;
  }

  write(state: PinState): void {
    mkdirSync(dirname(this.stateFile), { recursive: true, mode: 0o700 });
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, replacer), { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }

  /** Removes every pin and the record of them: everything pinned is detached. */
  clear(): void {
    unpin(this.root);
    if (existsSync(this.stateFile)) writeFileSync(this.stateFile, JSON.stringify({ hooks: [] }));
  }
}
