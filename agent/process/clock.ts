// Kernel ktime (CLOCK_MONOTONIC ns) to wall-clock RFC 3339 with nanoseconds.
// Times are split in whole seconds and nanoseconds, exact in doubles, so
// the per-event work needs no BigInt arithmetic.

/** Wall-clock time at ktime 0: ns, and the same as seconds and nanoseconds. */
let bootWallNs: bigint | undefined;
let bootSec = 0;
let bootNanos = 0;

/** Sampled once, taking the tightest of a few readings. */
function boot(): bigint {
  if (bootWallNs === undefined) {
    let best: bigint | undefined;
    let bestSpan = 1n << 62n;
    for (let i = 0; i < 5; i++) {
      const a = process.hrtime.bigint();
      const wall = BigInt(Date.now()) * 1_000_000n;
      const b = process.hrtime.bigint();
      if (b - a < bestSpan) {
        bestSpan = b - a;
        best = wall - (a + b) / 2n;
      }
    }
    bootWallNs = best!;
    bootSec = Number(bootWallNs / 1_000_000_000n);
    bootNanos = Number(bootWallNs % 1_000_000_000n);
  }
  return bootWallNs;
}

export function ktimeToRfc3339(ktime: bigint): string {
  const wall = boot();
  return ktime > MAX_SAFE ? nsToRfc3339(wall + ktime) : afterBoot(bootSec, bootNanos, Number(ktime));
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The wall time k ns (a safe integer) after a boot at bootSecond s + bootNs ns. */
export function afterBoot(bootSecond: number, bootNs: number, k: number): string {
  let sec = Math.floor(k / 1e9);
  let nanos = k - sec * 1e9;
  // The division may round up just below a whole second.
  if (nanos < 0) {
    sec--;
    nanos += 1e9;
  }
  nanos += bootNs;
  if (nanos >= 1e9) {
    sec++;
    nanos -= 1e9;
  }
  return rfc3339(bootSecond + sec, nanos);
}

let lastSecond = -1;
let lastPrefix = '';

/** The nanoseconds as protojson writes a Timestamp's: none, 3, 6 or 9 digits, the fewest that hold them. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  // Nine digits with their leading zeros, after the 1.
  const digits = String(1e9 + nanos);
  if (nanos % 1_000_000 === 0) return `.${digits.slice(1, 4)}`;
  if (nanos % 1_000 === 0) return `.${digits.slice(1, 7)}`;
  return `.${digits.slice(1)}`;
}

function rfc3339(second: number, nanos: number): string {
  if (second !== lastSecond) {
    lastSecond = second;
    lastPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  return `${lastPrefix}${fraction(nanos)}Z`;
}

export function nsToRfc3339(ns: bigint): string {
  return rfc3339(Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n));
}

export const nowRfc3339 = (): string => ktimeToRfc3339(process.hrtime.bigint());
