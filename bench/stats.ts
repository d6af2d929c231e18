// Statistics over benchmark rounds: min / median / max of per-round values, and paired per-round
// differences and ratios (contender vs. baseline measured in the same round), which cancel most of
// the round-to-round noise of a shared VM. Pure; missing rounds (undefined) are skipped.

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  /** how many rounds contributed */
  readonly n: number;
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** min / median / max of the defined, finite values; undefined when there are none. */
export function spread(values: readonly (number | undefined)[]): Spread | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { min: Math.min(...v), median: median(v), max: Math.max(...v), n: v.length };
}

/** Per-round a[i] − b[i] where both exist. */
export function pairedDiff(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): (number | undefined)[] {
  return a.map((x, i) => {
    const y = b[i];
    return x === undefined || y === undefined ? undefined : x - y;
  });
}

/** Per-round a[i] / b[i] where both exist and b[i] ≠ 0. */
export function pairedRatio(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): (number | undefined)[] {
  return a.map((x, i) => {
    const y = b[i];
    return x === undefined || y === undefined || y === 0 ? undefined : x / y;
  });
}

/** Scales every defined value (e.g. divide by the hop count). */
export function scale(values: readonly (number | undefined)[], k: number): (number | undefined)[] {
  return values.map((x) => (x === undefined ? undefined : x * k));
}

/** Resource cost per unit of work: cpuSeconds / units × per (e.g. per 1,000 round trips). */
export function costPer(cpuSeconds: number | undefined, units: number | undefined, per: number): number | undefined {
  if (cpuSeconds === undefined || units === undefined || units <= 0) return undefined;
  return (cpuSeconds / units) * per;
}
