// Tetragon's spellings of process fields: flags, capabilities, arguments, signals.
import { vigil_process_flag as F } from '../../kernel/abi/layouts.generated.js';
import { CAPABILITIES } from '../../kernel/caps.js';

/** In Tetragon's order (execve, procFS, truncArgs, errorArgs, nocwd, rootcwd, clone); Vigil's own flags sit beside their kin. */
const FLAG_NAMES: [number, string][] = [
  [F.VIGIL_FLAG_EXECVE, 'execve'],
  [F.VIGIL_FLAG_PROCFS, 'procFS'],
  [F.VIGIL_FLAG_TRUNC_FILENAME, 'truncFilename'],
  [F.VIGIL_FLAG_TRUNC_ARGS, 'truncArgs'],
  [F.VIGIL_FLAG_ERROR_ARGS, 'errorArgs'],
  [F.VIGIL_FLAG_NOCWD, 'nocwd'],
  [F.VIGIL_FLAG_ROOTCWD, 'rootcwd'],
  [F.VIGIL_FLAG_TRUNC_CWD, 'truncCwd'],
  [F.VIGIL_FLAG_CLONE, 'clone'],
];

const flagStrings = new Map<number, string>();

export function flagString(flags: number): string {
  let s = flagStrings.get(flags);
  if (s === undefined) {
    s = FLAG_NAMES.filter(([bit]) => flags & bit).map(([, name]) => name).join(' ');
    // Few combinations occur; a record with stray bits must not grow the map without bound.
    if (flagStrings.size < 1024) flagStrings.set(flags, s);
  }
  return s;
}


/**
 * A capability's name in Tetragon's CapabilitiesType enum, which its events
 * use: the kernel's name, except bit 1, which the enum calls DAC_OVERRIDE.
 * A bit the enum lacks is written as its number, as protojson writes an
 * unknown enum value.
 */
export function capEnumName(bit: number): string | number {
  if (bit === 1) return 'DAC_OVERRIDE';
  return CAPABILITIES[bit] ?? bit;
}

/** Capability names of a kernel_cap_t bit set, as Tetragon's events carry them. */
const capCache = new Map<bigint, (string | number)[]>();

export function capNames(set: bigint): (string | number)[] {
  let names = capCache.get(set);
  if (!names) {
    names = capNamesUncached(set);
    if (capCache.size < 1024) capCache.set(set, names);
  }
  return names;
}

function capNamesUncached(set: bigint): (string | number)[] {
  const out: (string | number)[] = [];
  for (let i = 0; i < 64; i++) {
    if ((set >> BigInt(i)) & 1n) out.push(capEnumName(i));
  }
  return out;
}

/**
 * argv[1..] as one string, as Tetragon joins them: by spaces, an argument
 * holding a space wrapped in double quotes (with a space before it, even
 * when it comes first), nothing escaped. Empty arguments at the end are
 * dropped, as is an empty first one; an empty one between others leaves
 * its space.
 */
export function argumentString(argv: string[]): string {
  let last = argv.length;
  while (last > 1 && argv[last - 1] === '') last--;
  let out = '';
  for (let i = 1; i < last; i++) {
    const a = argv[i];
    if (a.includes(' ')) out += ` "${a}"`;
    else out = out === '' ? a : `${out} ${a}`;
  }
  return out;
}

const SIGNALS = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP',
  'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

export function signalName(sig: number): string {
  return SIGNALS[sig] ?? (sig > 0 ? `SIGRT${sig - 32}` : '');
}
