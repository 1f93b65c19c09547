// Each matchArgs value must parse for its operator and arg type: integers
// in the type's range, CIDRs, ports and port ranges, symbolic names.
import type { ArgOperator, ArgType } from '../types.generated.js';
import type { Finding } from './errors.js';
import { POLICY_LIMITS } from './limits.js';
import { CAPABILITIES, FAMILIES, PROTOCOLS, TCP_STATES } from './names.js';
import { isIntType } from './operators.js';
import type { PathSeg } from './path.js';
import { hint } from './suggest.js';
import { parseCidr, parsePortRange } from '../../kernel/net/values.js';
import { FILE_TYPES } from '../arg-types.js';

const RANGE: Partial<Record<ArgType, [bits: number, signed: boolean]>> = {
  sint8: [8, true], int8: [8, true], uint8: [8, false], sint16: [16, true], int16: [16, true], uint16: [16, false],
  int: [32, true], sint32: [32, true], int32: [32, true], uint32: [32, false], capability: [32, true], bpf_cmd: [32, false],
  long: [64, true], sint64: [64, true], int64: [64, true], ulong: [64, false], uint64: [64, false], size_t: [64, false],
  syscall64: [64, false], kernel_cap_t: [64, false], cap_inheritable: [64, false], cap_permitted: [64, false], cap_effective: [64, false],
};

function parseInteger(v: string): bigint | undefined {
  const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(v.trim());
  if (!m) return undefined;
  const n = BigInt(m[2]);
  return m[1] === '-' ? -n : n;
}

/** Why `v` is not an integer of this type, or undefined. */
function intProblem(v: string, type: ArgType): string | undefined {
  const n = parseInteger(v);
  if (n === undefined) return `${JSON.stringify(v)} is not an integer`;
  const [bits, signed] = RANGE[type] ?? [64, true];
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  return n < min || n > max ? `${v} is out of range for ${type} (${min}..${max})` : undefined;
}

function rangeProblem(v: string, one: (x: string) => string | undefined): string | undefined {
  const parts = v.split(':');
  if (parts.length > 2) return `${JSON.stringify(v)} is not a value or a range a:b`;
  const bad = parts.map(one).find(Boolean);
  if (bad) return bad;
  return parts.length === 2 && parseInteger(parts[0])! > parseInteger(parts[1])! ? `range ${v} is empty: ${parts[0]} > ${parts[1]}` : undefined;
}

/** Why v is not what parse accepts (the shared network parsers), or undefined. */
function netProblem(v: string, parse: (v: string) => unknown): string | undefined {
  try {
    parse(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A symbolic name from `names`, or a number. */
function named(v: string, names: string[], what: string): string | undefined {
  if (names.includes(v) || parseInteger(v) !== undefined) return undefined;
  return `unknown ${what} ${JSON.stringify(v)}${hint(v, names, 0)}`;
}

const AFFIX_OPS: ReadonlySet<string> = new Set(['Prefix', 'NotPrefix', 'Postfix', 'NotPostfix']);
export const SUBSTRING_OPS: ReadonlySet<string> = new Set(['SubString', 'SubStringIgnCase']);

/** Why a string value is too long (or, for SubString, empty) for operator op, or undefined. */
export function stringProblem(v: string, op: string): string | undefined {
  const bytes = Buffer.byteLength(v);
  if (SUBSTRING_OPS.has(op) && !bytes) return `an empty ${op} value would match every string`;
  const name = AFFIX_OPS.has(op) ? 'prefixValueLength' : SUBSTRING_OPS.has(op) ? 'substringValueLength' : 'stringValueLength';
  const limit = POLICY_LIMITS[name];
  return bytes > limit ? `value is ${bytes} bytes long; Vigil's limit for ${op} is ${limit} (POLICY_LIMITS.${name})` : undefined;
}

/** Why value `v` does not fit operator `op` on an arg of type `type`, or undefined. */
export function valueProblem(op: ArgOperator, type: ArgType, v: string): string | undefined {
  switch (op) {
    case 'SAddr': case 'NotSAddr': case 'DAddr': case 'NotDAddr':
      return netProblem(v, parseCidr);
    case 'SPort': case 'NotSPort': case 'DPort': case 'NotDPort':
      return netProblem(v, parsePortRange);
    case 'Protocol': return named(v, PROTOCOLS, 'protocol');
    case 'Family': return named(v, FAMILIES, 'address family');
    case 'State': return named(v, TCP_STATES, 'TCP state');
    case 'FileType': case 'NotFileType':
      return v in FILE_TYPES ? undefined : `unknown file type ${JSON.stringify(v)}${hint(v, Object.keys(FILE_TYPES), 0)}; one of ${Object.keys(FILE_TYPES).join(', ')}`;
    case 'CapabilitiesGained': return CAPABILITIES.includes(v) ? undefined : `unknown capability ${JSON.stringify(v)}${hint(v, CAPABILITIES, 0)}`;
    case 'GT': case 'LT': case 'GreaterThan': case 'LessThan': case 'Mask':
      return intProblem(v, type);
    case 'InRange': case 'NotInRange': case 'InMap': case 'NotInMap':
      return rangeProblem(v, (x) => intProblem(x, type));
    case 'Equal': case 'NotEqual':
      if (!isIntType(type)) return stringProblem(v, op);
      if (type === 'capability' && v.startsWith('CAP_')) return named(v, CAPABILITIES, 'capability');
      if ((type === 'syscall64' && /^[a-z_][a-z0-9_]*$/.test(v)) || (type === 'bpf_cmd' && /^BPF_[A-Z_]+$/.test(v))) return undefined;
      return intProblem(v, type);
    default:
      return stringProblem(v, op);
  }
}

/** Reports a filter without values; true when it has some. */
export function needValues(values: unknown[] | undefined, path: PathSeg[], out: Finding[]): boolean {
  if (values?.length) return true;
  out.push({ path: values ? [...path, 'values'] : path, message: 'needs at least one value' });
  return false;
}
