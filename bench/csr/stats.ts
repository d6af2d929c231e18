// Statistics of the CSR benchmark: a Prometheus histogram read from the exposition text (cumulative
// buckets, sum, count), the difference of two readings, and histogram_quantile's linear estimate
// inside a bucket; nearest-rank percentiles of client-observed latencies. Pure.

export interface Histogram {
  /** upper bounds ascending, +Inf last, with cumulative counts */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  readonly sum: number;
  readonly count: number;
}

/** Reads histogram `name` (no labels besides `le`) from a Prometheus exposition text. */
export function readHistogram(text: string, name: string): Histogram | undefined {
  const buckets: { le: number; count: number }[] = [];
  let sum: number | undefined;
  let count: number | undefined;
  for (const line of text.split('\n')) {
    const b = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}\\s+(\\S+)`).exec(line);
    if (b) { buckets.push({ le: b[1] === '+Inf' ? Infinity : Number(b[1]), count: Number(b[2]) }); continue; }
    const s = new RegExp(`^${name}_sum\\s+(\\S+)`).exec(line);
    if (s) { sum = Number(s[1]); continue; }
    const c = new RegExp(`^${name}_count\\s+(\\S+)`).exec(line);
    if (c) count = Number(c[1]);
  }
  if (buckets.length === 0 || sum === undefined || count === undefined) return undefined;
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, sum, count };
}

/** b − a, bucket by bucket (the same bucket layout). */
export function histogramDelta(a: Histogram, b: Histogram): Histogram {
  if (a.buckets.length !== b.buckets.length || a.buckets.some((x, i) => x.le !== b.buckets[i]!.le)) throw new RangeError('histograms with different buckets');
  return { buckets: b.buckets.map((x, i) => ({ le: x.le, count: x.count - a.buckets[i]!.count })), sum: b.sum - a.sum, count: b.count - a.count };
}

/**
 * The q-quantile (0..1) as Prometheus' histogram_quantile estimates it: linear inside the bucket
 * that holds it; the lowest bucket starts at 0; in the +Inf bucket the highest finite bound.
 */
export function histogramQuantile(h: Histogram, q: number): number | undefined {
  const total = h.buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Nearest-rank percentile of unsorted values; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(1, Math.ceil((p / 100) * s.length)) - 1]!;
}
