// Tetragon's shapes for the argument types whose record bytes are more
// than an integer or a path: buffers (char_buf, char_iovec), credentials
// (cred), capabilities (capability, kernel_cap_t and the cap_* sets).
import type { KprobeArgument, TetragonCredentialsArg } from '../../exporters/tetragon.js';
import type { GenericArg } from '../decode/records.js';
import { vigil_arg_flag as F, vigil_cred_arg as CA, vigil_creds as CR, vigil_caps as CP } from '../../kernel/abi/layouts.generated.js';
import { userNamespace } from './kobj-args.js';
import { capNames } from '../process/format.js';
import { CAPABILITIES } from '../../kernel/caps.js';

/** A buffer's bytes: its full size (u64), then what was copied. Fewer bytes than the size: truncated_bytes_arg. */
export function bytesArgument(arg: GenericArg | undefined): KprobeArgument {
  const b = arg?.bytes ?? Buffer.alloc(0);
  const size = b.length >= 8 ? b.readBigUInt64LE(0) : 0n;
  const data = b.subarray(Math.min(8, b.length));
  const cut = BigInt(data.length) < size || ((arg?.flags ?? 0) & F.VIGIL_ARG_TRUNCATED) !== 0;
  if (cut && size > BigInt(data.length)) return { truncated_bytes_arg: { bytes_arg: data.toString('base64'), orig_size: size.toString() } };
  return { bytes_arg: data.toString('base64') };
}

/** Tetragon's SecureBitsType names, by bit. */
const SECUREBITS = [
  'SecBitNoRoot', 'SecBitNoRootLocked', 'SecBitNoSetUidFixup', 'SecBitNoSetUidFixupLocked',
  'SecBitKeepCaps', 'SecBitKeepCapsLocked', 'SecBitNoCapAmbientRaise', 'SecBitNoCapAmbientRaiseLocked',
];

/** Tetragon omits empty lists, as protojson does. */
const list = <T>(names: T[]): T[] | undefined => (names.length ? names : undefined);

/** A cred arg (struct vigil_cred_arg) as process_credentials_arg; undefined when the record is short. */
export function credArgument(arg: GenericArg | undefined): KprobeArgument {
  const b = arg?.bytes ?? Buffer.alloc(0);
  if (b.length < CA.sizeof) return { process_credentials_arg: undefined };
  const id = (f: keyof typeof CR.offsetof): number => b.readUInt32LE(CA.offsetof.creds + CR.offsetof[f]);
  const cap = (f: keyof typeof CP.offsetof): (string | number)[] | undefined => list(capNames(b.readBigUInt64LE(CA.offsetof.caps + CP.offsetof[f])));
  const secure = b.readUInt32LE(CA.offsetof.securebits);
  const cred: TetragonCredentialsArg = {
    uid: id('uid'), gid: id('gid'), euid: id('euid'), egid: id('egid'), suid: id('suid'), sgid: id('sgid'), fsuid: id('fsuid'), fsgid: id('fsgid'),
    securebits: list(SECUREBITS.filter((_, i) => secure & (1 << i))),
    caps: { permitted: cap('permitted'), effective: cap('effective'), inheritable: cap('inheritable') },
    user_ns: userNamespace(b, CA.offsetof.userns),
  };
  if (!cred.securebits) delete cred.securebits;
  return { process_credentials_arg: cred };
}

/** A capability number: capability_arg {value, name}. */
export function capabilityArgument(v: number): KprobeArgument {
  const name = CAPABILITIES[v];
  return { capability_arg: name ? { value: v, name } : { value: v } };
}

/** A capability set as Tetragon prints it: 16 hex digits. */
export const capsHex = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');
