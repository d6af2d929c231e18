// One duration syntax for command-line flags and API query parameters: Go-style compounds of ms,
// s, m, h and d (`500ms`, `30s`, `1h30m`). Callers bound the range and word their own errors.
// (Gateway API durations in routes follow GEP-2257 and have their own parser in controller/src/model.)

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART = /(\d+)(ms|s|m|h|d)/g;

/** Milliseconds, or undefined when `v` is not a duration. */
export function parseDuration(v: string): number | undefined {
  if (!WHOLE.test(v)) return undefined;
  let ms = 0;
  for (const p of v.matchAll(PART)) ms += Number(p[1]) * UNITS[p[2]!]!;
  return Number.isSafeInteger(ms) ? ms : undefined;
}
