// Decoder throughput: exec records (the largest kind) decoded per second
// from a buffer laid out as the ring buffer holds them, beside the cost
// of one koffi call (the per-record price a callback-based reader pays).
//
//   node dist/benchmarks/ringbuf-decode.js
import { RecordDecoder } from '../agent/decode/decode.js';
import * as L from '../kernel/abi/layouts.generated.js';
import { libbpf } from '../kernel/bpf/libbpf.js';

const E = L.vigil_msg_exec;
const N = 200_000;

function record(i: number): Buffer {
  const binary = '/usr/bin/true';
  const args = `true\0--iteration\0${i}\0`;
  const cwd = '/home/user/project';
  const b = Buffer.alloc(E.sizeof + binary.length + args.length + cwd.length);
  b.writeUInt8(L.vigil_op.VIGIL_OP_EXEC, 0);
  b.writeUInt16LE(b.length, L.vigil_msg_header.offsetof.size);
  b.writeUInt32LE(1000 + i, E.offsetof.proc);
  b.writeUInt16LE(binary.length, E.offsetof.binary_len);
  b.writeUInt16LE(args.length, E.offsetof.args_len);
  b.writeUInt16LE(cwd.length, E.offsetof.cwd_len);
  b.write(binary + args + cwd, E.sizeof);
  return b;
}

// Records back to back with the ring's 8-byte header and alignment.
const parts: Buffer[] = [];
const offsets: [number, number][] = [];
let pos = 0;
for (let i = 0; i < 1024; i++) {
  const r = record(i);
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(r.length);
  const padded = Buffer.alloc((r.length + 8 + 7) & ~7);
  hdr.copy(padded);
  r.copy(padded, 8);
  offsets.push([pos + 8, r.length]);
  parts.push(padded);
  pos += padded.length;
}
const ring = Buffer.concat(parts);
const dv = new DataView(ring.buffer, ring.byteOffset, ring.length);
const decoder = new RecordDecoder();

for (let i = 0; i < 20_000; i++) decoder.decode(dv, ...offsets[i % offsets.length]);
let t0 = process.hrtime.bigint();
let sink = 0;
for (let i = 0; i < N; i++) sink += decoder.decode(dv, ...offsets[i % offsets.length])!.ktime === 0n ? 1 : 0;
const decodeNs = Number(process.hrtime.bigint() - t0) / N;

t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) sink += libbpf.numPossibleCpus();
const callNs = Number(process.hrtime.bigint() - t0) / N;

console.log(JSON.stringify({
  exec_records_decoded_per_second: Math.round(1e9 / decodeNs),
  decode_ns_per_record: +decodeNs.toFixed(0),
  koffi_call_ns: +callNs.toFixed(0),
  checksum: sink,
}, null, 2));
