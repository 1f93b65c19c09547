// The loader (kernel/bpf) and the ring buffer reader with a hand-written
// kprobe program (kprobes/test/kprobe_open.bpf.c), not a policy: it attaches to
// a kernel function, fires on open(), and its in-kernel tgid filter keeps
// other processes' opens out of the ring buffer. Policies on kprobes are
// policy-kprobe.test.ts.
import t from 'tap';
import { mkdtempSync, writeFileSync, openSync, closeSync, statSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject } from '../kernel/bpf/object.js';
import { RingReader } from '../agent/ringbuf/reader.js';
import { lacking } from './lib/kernel.js';

const OBJECT = fileURLToPath(new URL('../bpf/test/kprobe_open.bpf.o', import.meta.url));
// Must match kprobes/test/kprobe_open.bpf.c: max_entries and struct open_record.
const RING_SIZE = 256 * 1024;
const NAME_OFFSET = 8;
const NAME_LEN = 64;

interface OpenRecord { ino: bigint; name: string }
interface Scope { teardown(fn: () => void): unknown }

function decode(data: DataView, offset: number): OpenRecord {
  const bytes = new Uint8Array(data.buffer, data.byteOffset + offset + NAME_OFFSET, NAME_LEN);
  const end = bytes.indexOf(0);
  return {
    ino: data.getBigUint64(offset, true),
    name: Buffer.from(bytes.subarray(0, end < 0 ? NAME_LEN : end)).toString('utf8'),
  };
}

/** Loads and attaches the kprobe for this process; returns a function draining its records. */
function attachKprobe(t: Scope): () => OpenRecord[] {
  const obj = BpfObject.open(OBJECT).setRodata({ target_tgid: process.pid }).load().attach();
  const records: OpenRecord[] = [];
  const ring = new RingReader(obj.map('open_events').fd, RING_SIZE, (data, offset) => records.push(decode(data, offset)));
  t.teardown(() => {
    ring.close();
    obj.close();
  });
  return () => {
    ring.drain();
    return records.splice(0);
  };
}

function tempFiles(t: Scope, ...names: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-kprobe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return names.map((n) => {
    const p = join(dir, n);
    writeFileSync(p, `${n}\n`);
    return p;
  });
}

const skip = await lacking(['kprobes', 'ring_buffer']);

t.test('opening a file gives a record with its inode and name', { skip }, async (t) => {
  // Created before attaching, so only the open below can be recorded.
  const [file] = tempFiles(t, 'opened-by-test.txt');
  const ino = statSync(file, { bigint: true }).ino;
  const drain = attachKprobe(t);
  closeSync(openSync(file, 'r'));
  const hits = drain().filter((r) => r.ino === ino);
  t.equal(hits.length, 1, 'one record for the file');
  t.equal(hits[0]?.name, 'opened-by-test.txt', 'the record names the file');
});

t.test('another process opening a file gives no record', { skip }, async (t) => {
  const [file] = tempFiles(t, 'opened-by-cat.txt');
  const ino = statSync(file, { bigint: true }).ino;
  const drain = attachKprobe(t);
  const cat = spawnSync('cat', [file], { encoding: 'utf8' });
  t.equal(cat.status, 0, 'cat read the file');
  t.equal(cat.stdout, 'opened-by-cat.txt\n');
  t.same(drain().filter((r) => r.ino === ino), [], 'no record for the open by cat');
  // The program is live: the same file opened here is recorded.
  closeSync(openSync(file, 'r'));
  t.equal(drain().filter((r) => r.ino === ino).length, 1, 'a record for the open by this process');
});
