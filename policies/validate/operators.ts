// Which matchArgs operators apply to which arg types, as Tetragon's
// selector compiler accepts them.
import type { ArgOperator, ArgType } from '../types.generated.js';
import { argClass, type ArgClass } from '../arg-types.js';

export { isIntType } from '../arg-types.js';

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
  return type === 'auto' ? undefined : OPS[argClass(type)];
}

/** Operators that take no values: the port is privileged or not. */
export const NO_VALUES = new Set<ArgOperator>(['SPortPriv', 'NotSPortPriv', 'NotSportPriv', 'DPortPriv', 'NotDPortPriv']);

/** Operators whose integer values are compared inline; the rest live in BPF maps. */
export const INLINE_INT = new Set<ArgOperator>(['Equal', 'NotEqual', 'GT', 'LT', 'GreaterThan', 'LessThan', 'Mask']);

/** Operators in the schema that Vigil refuses on any arg, and why. */
export const REFUSED_OPERATORS: Partial<Record<ArgOperator, string>> = {
  CelExpr: 'a CEL expression is not evaluated in the kernel by Vigil: it compiles no CEL to BPF, and a filter is refused rather than dropped',
};
