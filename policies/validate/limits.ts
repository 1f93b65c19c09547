// Vigil's own limits on a TracingPolicy, checked by `vigil policy lint`.
// They bound the selector bytes and BPF maps a policy compiles to; a
// policy over a limit is a lint error, never silently truncated.
// JSON-able: the README prints this object.
import type { Finding } from './errors.js';
import type { PathSeg } from './path.js';

export const POLICY_LIMITS = {
  /** kprobes + tracepoints + lsmhooks in one policy. */
  hooksPerPolicy: 128,
  /** Functions named by one list (each is its own kprobe). */
  functionsPerList: 512,
  /** args declared per hook. */
  argsPerHook: 8,
  /** selectors per hook; each is a program branch. */
  selectorsPerHook: 32,
  /** matchArgs (and matchReturnArgs) per selector. */
  matchArgsPerSelector: 8,
  /** matchActions (and matchReturnActions) per selector. */
  actionsPerSelector: 8,
  /** Values of one filter kept in a BPF hash or LPM map: strings, binaries, InMap, addresses, ports. */
  mapValuesPerMatch: 1024,
  /** Integer values of one filter: Equal/NotEqual go to a hash map; GT, LT and Mask fold into one inline value. */
  inlineValuesPerMatch: 64,
  /** Bytes of one string value (argument strings and binary paths). */
  stringValueLength: 255,
  /** Bytes of one Prefix or Postfix value: an LPM trie key holds 256 bytes, the filter id included. */
  prefixValueLength: 252,
  /** Values of one SubString or SubStringIgnCase filter: the kernel tries each at every position of the arg. */
  substringValuesPerMatch: 8,
  /** Bytes of one SubString or SubStringIgnCase value: four 8-byte words, compared at each position. */
  substringValueLength: 32,
  /** matchPIDs filters per selector (slots in the selector bytes). */
  pidFiltersPerSelector: 4,
  /** matchBinaries and matchParentBinaries filters per selector, together (slots in the selector bytes). */
  binaryFiltersPerSelector: 4,
  /** matchCapabilities and matchCapabilityChanges filters per selector, together (slots in the selector bytes). */
  capabilityFiltersPerSelector: 2,
  /** PIDs in one matchPIDs filter. */
  pidValuesPerMatch: 64,
  /** Values in one matchNamespaces filter. */
  namespaceValuesPerMatch: 4,
  /** matchNamespaces filters per selector. */
  namespaceFiltersPerSelector: 10,
} as const;

export type PolicyLimit = keyof typeof POLICY_LIMITS;

/** Reports `count` over the limit `key` as a finding at `path`. */
export function overLimit(out: Finding[], path: PathSeg[], count: number, key: PolicyLimit, what: string): void {
  const limit = POLICY_LIMITS[key];
  if (count > limit) out.push({ path, message: `${count} ${what}; Vigil's limit is ${limit} (POLICY_LIMITS.${key})` });
}
