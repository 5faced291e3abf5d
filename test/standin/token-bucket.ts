/**
 * The token bucket AWS uses to throttle control-plane APIs: a burst capacity, refilled continuously at a
 * sustained rate. Refill is computed lazily from the clock on each take, so an idle bucket costs nothing.
 */
export interface BucketSpec {
  capacity: number;
  refillPerSecond: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly clock: () => number = Date.now,
  ) {
    this.tokens = spec.capacity;
    this.last = clock();
  }

  /** Takes one token; false means the caller is throttled. */
  tryTake(): boolean {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.spec.capacity, this.tokens + (elapsed * this.spec.refillPerSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  available(): number {
    return Math.floor(this.tokens);
  }
}
