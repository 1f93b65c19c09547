// Which matchArgs operators apply to which arg types, as Tetragon's
// selector compiler accepts them.
import type { ArgOperator, ArgType } from '../types.generated.js';

type ArgClass = 'int' | 'caps' | 'string' | 'file' | 'sock' | 'skb' | 'sockaddr' | 'cred' | 'opaque';

const CLASS: Partial<Record<ArgType, ArgClass>> = {
  int: 'int', sint8: 'int', int8: 'int', uint8: 'int', sint16: 'int', int16: 'int', uint16: 'int', uint32: 'int',
  sint32: 'int', int32: 'int', ulong: 'int', uint64: 'int', size_t: 'int', long: 'int', sint64: 'int', int64: 'int',
  capability: 'int', syscall64: 'int', bpf_cmd: 'int',
  kernel_cap_t: 'caps', cap_inheritable: 'caps', cap_permitted: 'caps', cap_effective: 'caps',
  string: 'string', char_buf: 'string', data_loc: 'string', net_device: 'string',
  file: 'file', fd: 'file', path: 'file', filename: 'file', dentry: 'file', linux_binprm: 'file',
  sock: 'sock', socket: 'sock', skb: 'skb', sockaddr: 'sockaddr', cred: 'cred',
};

const INT: ArgOperator[] = ['Equal', 'NotEqual', 'GT', 'LT', 'GreaterThan', 'LessThan', 'Mask', 'InMap', 'NotInMap', 'InRange', 'NotInRange'];
const STRING: ArgOperator[] = ['Equal', 'NotEqual', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix', 'SubString', 'SubStringIgnCase'];
const NET: ArgOperator[] = [
  'SAddr', 'NotSAddr', 'DAddr', 'NotDAddr', 'SPort', 'NotSPort', 'DPort', 'NotDPort',
  'SPortPriv', 'NotSPortPriv', 'NotSportPriv', 'DPortPriv', 'NotDPortPriv', 'Protocol', 'Family',
];
/** A sockaddr holds one address and port: Tetragon matches them as the source (SAddr, SPort). */
const SOCKADDR: ArgOperator[] = ['SAddr', 'NotSAddr', 'SPort', 'NotSPort', 'SPortPriv', 'NotSPortPriv', 'NotSportPriv', 'Family'];

const OPS: Record<ArgClass, readonly ArgOperator[]> = {
  int: INT,
  caps: [...INT, 'CapabilitiesGained'],
  string: STRING,
  file: [...STRING, 'FileType', 'NotFileType'],
  sock: [...NET, 'State'],
  skb: NET,
  sockaddr: SOCKADDR,
  cred: ['CapabilitiesGained'],
  opaque: [],
};

/** Operators that apply to an arg of this type; undefined for `auto`, resolved only from BTF. */
export function operatorsFor(type: ArgType): readonly ArgOperator[] | undefined {
  return type === 'auto' ? undefined : OPS[CLASS[type] ?? 'opaque'];
}

export const isIntType = (type: ArgType): boolean => CLASS[type] === 'int' || CLASS[type] === 'caps';

/** Operators that take no values: the port is privileged or not. */
export const NO_VALUES = new Set<ArgOperator>(['SPortPriv', 'NotSPortPriv', 'NotSportPriv', 'DPortPriv', 'NotDPortPriv']);

/** Operators whose integer values are compared inline; the rest live in BPF maps. */
export const INLINE_INT = new Set<ArgOperator>(['Equal', 'NotEqual', 'GT', 'LT', 'GreaterThan', 'LessThan', 'Mask']);
