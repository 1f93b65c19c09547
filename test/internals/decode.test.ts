// Record decoding, byte by byte, against records written field by field.
import t from 'tap';
import { RecordDecoder } from '../../agent/decode/decode.js';
import * as L from '../../kernel/abi/layouts.generated.js';

function execRecord(binary: string, argv: string[], cwd: string): Buffer {
  const args = Buffer.from(argv.map((a) => `${a}\0`).join(''));
  const E = L.vigil_msg_exec;
  const b = Buffer.alloc(E.sizeof + binary.length + args.length + cwd.length);
  b.writeUInt8(L.vigil_op.VIGIL_OP_EXEC, E.offsetof.hdr + L.vigil_msg_header.offsetof.op);
  b.writeUInt16LE(b.length, E.offsetof.hdr + L.vigil_msg_header.offsetof.size);
  b.writeBigUInt64LE(123n, E.offsetof.hdr + L.vigil_msg_header.offsetof.ktime);
  b.writeUInt32LE(42, E.offsetof.proc + L.vigil_process_id.offsetof.pid);
  b.writeBigUInt64LE(1000n, E.offsetof.proc + L.vigil_process_id.offsetof.ktime);
  b.writeUInt32LE(7, E.offsetof.parent + L.vigil_process_id.offsetof.pid);
  b.writeUInt32LE(1000, E.offsetof.creds + L.vigil_creds.offsetof.euid);
  b.writeBigUInt64LE(1n << 21n, E.offsetof.caps + L.vigil_caps.offsetof.effective);
  b.writeUInt16LE(binary.length, E.offsetof.binary_len);
  b.writeUInt16LE(args.length, E.offsetof.args_len);
  b.writeUInt16LE(cwd.length, E.offsetof.cwd_len);
  b.write(binary + args.toString() + cwd, E.sizeof);
  return b;
}

const view = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);

t.test('an exec record decodes to its fields', async (t) => {
  const b = execRecord('/usr/bin/env', ['env', 'a b', ''], '/root');
  const rec = new RecordDecoder().decode(view(b), 0, b.length);
  t.match(rec, {
    op: 'exec', ktime: 123n, proc: { pid: 42, ktime: 1000n }, parent: { pid: 7, ktime: 0n },
    creds: { euid: 1000, uid: 0 }, caps: { effective: 1n << 21n }, binary: '/usr/bin/env', args: ['env', 'a b', ''], cwd: '/root',
  });
});

t.test('unknown ops and short records are counted, not thrown', async (t) => {
  const d = new RecordDecoder();
  const b = Buffer.alloc(32);
  b.writeUInt8(200, 0);
  t.equal(d.decode(view(b), 0, 32), undefined);
  t.equal(d.decode(view(b), 0, 4), undefined);
  t.same(Object.fromEntries(d.unknownOps), { 200: 1 });
  t.equal(d.malformed.count, 1);
});

t.test('a record cut short by the kernel does not read past its end', async (t) => {
  const b = execRecord('/bin/x', ['x'], '/tmp');
  const rec = new RecordDecoder().decode(view(b), 0, b.length - 2);
  t.match(rec, { op: 'exec', binary: '/bin/x', cwd: '/t' });
});

t.test('strings read from inside a larger buffer, UTF-8 and invalid bytes as Tetragon reads them', async (t) => {
  const E = L.vigil_msg_exec;
  const binary = Buffer.from('/usr/bin/café');
  const args = Buffer.from('x\0caf\xe9\0', 'latin1');
  const cwd = Buffer.from([0x2f, 0x74, 0xff, 0xfe, 0x6d, 0x70]);
  const rec = Buffer.alloc(E.sizeof + binary.length + args.length + cwd.length);
  rec.writeUInt8(L.vigil_op.VIGIL_OP_EXEC, E.offsetof.hdr + L.vigil_msg_header.offsetof.op);
  rec.writeUInt16LE(binary.length, E.offsetof.binary_len);
  rec.writeUInt16LE(args.length, E.offsetof.args_len);
  rec.writeUInt16LE(cwd.length, E.offsetof.cwd_len);
  Buffer.concat([binary, args, cwd]).copy(rec, E.sizeof);
  // As in the ring: the record at an offset, in a view that starts inside its ArrayBuffer.
  const ring = Buffer.alloc(rec.length + 64);
  rec.copy(ring, 40);
  const dv = new DataView(ring.buffer, ring.byteOffset + 8, ring.length - 8);
  t.match(new RecordDecoder().decode(dv, 32, rec.length), { binary: '/usr/bin/café', args: ['x', 'caf\uFFFD'], cwd: '/t\uFFFDmp' });
});
