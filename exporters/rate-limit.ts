// Tetragon's export rate limit (--export-rate-limit, events per minute): a
// token bucket that holds a minute's worth and refills evenly, as Go's
// rate.NewLimiter(every(minute/N), N) does; it starts full. 0 exports
// nothing.
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(private readonly perMinute: number, private readonly now: () => number = () => performance.now()) {
    this.tokens = perMinute;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.perMinute, this.tokens + ((t - this.last) * this.perMinute) / 60_000);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
