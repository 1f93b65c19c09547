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

export function nsToRfc3339(ns: bigint): string {
  const second = ns / 1_000_000_000n;
  if (second !== lastSecond) {
    lastSecond = second;
    lastPrefix = new Date(Number(second) * 1000).toISOString().slice(0, 19);
  }
  return `${lastPrefix}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

export const nowRfc3339 = (): string => ktimeToRfc3339(process.hrtime.bigint());
