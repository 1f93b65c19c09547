// Who is on the other end of a Unix socket: SO_PEERCRED, the pid, uid and
// gid the kernel recorded when the peer connected (it cannot be forged).
import { describeError, errno, libc_ } from './bpf/libbpf.js';
import { VigilError } from './errors.js';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export function peerCredentials(fd: number): PeerCredentials {
  const buf = Buffer.alloc(12);
  const len = [12];
  if (libc_.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) {
    throw new VigilError('VIGIL_INTERNAL', `SO_PEERCRED on fd ${fd} failed: ${describeError(-errno())}`);
  }
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}
