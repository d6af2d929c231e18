// Per-node token buckets for certificate requests: a node may send `burst` CSRs at once (a node
// starting with many pods) and then `ratePerSec` on average. Time is injectable for tests; idle
// buckets are forgotten so the map stays bounded by active nodes.

export interface RateLimitOptions {
  /** bucket size, default 200 */
  readonly burst?: number;
  /** refill per second, default 50 */
  readonly ratePerSec?: number;
  readonly now?: () => number;
}

interface Bucket { tokens: number; at: number }

export class TokenBuckets {
  readonly burst: number;
  readonly ratePerSec: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(o: RateLimitOptions = {}) {
    this.burst = o.burst ?? 200;
    this.ratePerSec = o.ratePerSec ?? 50;
    this.#now = o.now ?? Date.now;
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec);
    b.at = now;
    if (this.#buckets.size > 10_000) this.#sweep(now);
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Milliseconds until `key` has a token again (0 when it has one). */
  retryAfterMs(key: string): number {
    const b = this.#buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.burst, b.tokens + ((this.#now() - b.at) / 1000) * this.ratePerSec);
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.ratePerSec) * 1000);
  }

  #sweep(now: number): void {
    const full = (this.burst / this.ratePerSec) * 1000;
    for (const [k, b] of this.#buckets) if (now - b.at >= full) this.#buckets.delete(k);
  }
}
