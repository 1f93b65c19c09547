// How much of what was written to a socket its peer has not acknowledged
// yet: SIOCOUTQ, the bytes still in the send queue (unsent, or sent and not
// acked). An exporter confirms delivery to a stream sink with it: 0 means
// the peer's TCP has everything written so far.
import { describeError, errno, libc_ } from './bpf/libbpf.js';
import { VigilError } from './errors.js';

const SIOCOUTQ = 0x5411;

export function unackedBytes(fd: number): number {
  const out = [0];
  if (libc_.ioctlInt(fd, SIOCOUTQ, out) !== 0) {
    throw new VigilError('VIGIL_INTERNAL', `SIOCOUTQ on fd ${fd} failed: ${describeError(-errno())}`);
  }
  return out[0];
}
