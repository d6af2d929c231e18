// Statistics of the scale benchmark: nearest-rank percentiles, latency summaries, the clock offset
// between two processes from ping round trips, and number formatting for the report. Pure.

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile (the smallest value with at least p % of the values at or below it). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in 0..100`);
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return undefined;
  const s = [...v].sort((a, b) => a - b);
  return { n: s.length, min: s[0]!, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Values grouped by a key, in first-seen key order. */
export function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list) list.push(it);
    else out.set(k, [it]);
  }
  return out;
}

/** One ping: sent and answered on the local clock, stamped on the remote clock in between. */
export interface PingSample { readonly sent: number; readonly remote: number; readonly received: number }

/**
 * remote − local clock offset from the ping with the shortest round trip (NTP's estimate: the
 * remote stamp is taken at the midpoint); `bound` is half that round trip, the largest possible error.
 */
export function clockOffset(samples: readonly PingSample[]): { offset: number; bound: number } {
  if (samples.length === 0) throw new RangeError('no ping samples');
  let best = samples[0]!;
  for (const s of samples) if (s.received - s.sent < best.received - best.sent) best = s;
  return { offset: best.remote - (best.sent + best.received) / 2, bound: (best.received - best.sent) / 2 };
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function fmtBytes(b: number | undefined): string {
  if (b === undefined || !Number.isFinite(b)) return '–';
  if (b >= 1024 * 1024) return `${(b / 1024 / 1024).toFixed(2)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${Math.round(b)} B`;
}

/** "p50 / p99 / max" of a summary in ms. */
export function fmtSummary(s: Summary | undefined): string {
  return s ? `${fmtMs(s.p50)} / ${fmtMs(s.p99)} / ${fmtMs(s.max)}` : '–';
}
