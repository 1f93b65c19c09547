// Kernel ktime (CLOCK_MONOTONIC ns) to wall-clock RFC 3339 with nanoseconds.

let bootWallNs: bigint | undefined;

/** Wall-clock ns at ktime 0; sampled once, taking the tightest of a few readings. */
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
  }
  return bootWallNs;
}

export function ktimeToRfc3339(ktime: bigint): string {
  return nsToRfc3339(boot() + ktime);
}

let lastSecond = -1n;
let lastPrefix = '';

/** The nanoseconds as protojson writes a Timestamp's: none, 3, 6 or 9 digits, the fewest that hold them. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  if (nanos % 1_000_000 === 0) return `.${String(nanos / 1_000_000).padStart(3, '0')}`;
  if (nanos % 1_000 === 0) return `.${String(nanos / 1_000).padStart(6, '0')}`;
  return `.${String(nanos).padStart(9, '0')}`;
}

export function nsToRfc3339(ns: bigint): string {
  const second = ns / 1_000_000_000n;
  if (second !== lastSecond) {
    lastSecond = second;
    lastPrefix = new Date(Number(second) * 1000).toISOString().slice(0, 19);
  }
  return `${lastPrefix}${fraction(Number(ns % 1_000_000_000n))}Z`;
}

export const nowRfc3339 = (): string => ktimeToRfc3339(process.hrtime.bigint());
