// Parsers of the L7 bench's tool outputs (pure): fortio's -json result (percentiles in seconds,
// return codes, achieved rate), h2load's summary and its per-request --log-file, the
// connect-to-first-byte tool's JSON line, and the agents' outbound request_total.

/** Latencies in ms; rps is the achieved rate; errors are non-2xx answers and failed requests. */
export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  readonly errors: number;
  readonly rps: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly connections?: number;
}

interface FortioJson {
  ActualQPS?: number;
  ActualDuration?: number;
  DurationHistogram?: { Count?: number; Max?: number; Percentiles?: { Percentile: number; Value: number }[] };
  ErrorsDurationHistogram?: { Count?: number };
  RetCodes?: Record<string, number>;
  SocketCount?: number;
}

/** fortio load -json: the histogram's percentiles (which must include 50, 90, 99, 99.9). */
export function parseFortio(text: string): LoadResult {
  let j: FortioJson;
  try {
    j = JSON.parse(text) as FortioJson;
  } catch (e) {
    throw new Error(`fortio output is not JSON (${(e as Error).message}): ${text.trim().slice(0, 200)}`);
  }
  const h = j.DurationHistogram;
  if (!h || typeof h.Count !== 'number' || !Array.isArray(h.Percentiles)) throw new Error('fortio JSON without DurationHistogram.Count/Percentiles');
  const pct = (p: number): number => {
    const v = h.Percentiles!.find((x) => Math.abs(x.Percentile - p) < 1e-9)?.Value;
    if (typeof v !== 'number') throw new Error(`fortio JSON lacks the p${p} percentile (run it with -p "50,90,99,99.9")`);
    return v * 1000;
  };
  let ok = 0;
  let total = 0;
  for (const [code, n] of Object.entries(j.RetCodes ?? {})) {
    total += n;
    if (/^2\d\d$/.test(code)) ok += n;
  }
  const seconds = (j.ActualDuration ?? 0) / 1e9;
  return {
    requests: Math.max(total, h.Count), ok, errors: Math.max(total, h.Count) - ok,
    rps: j.ActualQPS ?? (seconds > 0 ? h.Count / seconds : 0), seconds,
    p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: (h.Max ?? 0) * 1000,
    ...(typeof j.SocketCount === 'number' ? { connections: j.SocketCount } : {}),
  };
}

export interface H2loadSummary {
  readonly seconds: number;
  readonly rps: number;
  readonly total: number;
  /** requests answered (-D: the ones still in flight at the end are started, not done) */
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  readonly status2xx: number;
}

/** h2load's stdout summary ("finished in …, N req/s", "requests: …", "status codes: …"). */
export function parseH2load(text: string): H2loadSummary {
  const fin = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(text);
  const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const codes = /status codes: (\d+) 2xx/.exec(text);
  if (!fin || !req || !codes) throw new Error(`h2load output without its summary: ${text.trim().split('\n').slice(-4).join(' | ')}`);
  return {
    seconds: Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1), rps: Number(fin[3]),
    total: Number(req[1]), done: Number(req[2]), succeeded: Number(req[3]), failed: Number(req[4]), errored: Number(req[5]), timeout: Number(req[6]),
    status2xx: Number(codes[1]),
  };
}

/** Nearest-rank percentile of sorted values (p in 0–100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty list');
  const rank = Math.ceil((p * sorted.length) / 100 - 1e-9); // 99.9 % of 1000 is 999, not 999.0000000000001
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** h2load --log-file lines: start (µs since epoch) \t status \t duration (µs) → durations in ms, sorted. */
export function parseH2loadLog(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split('\t');
    const us = Number(f[2]);
    if (f.length < 3 || !Number.isFinite(us)) throw new Error(`h2load log line "${line.slice(0, 80)}" is not start\\tstatus\\tduration`);
    out.push(us / 1000);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The h2load cell's result: the summary's counts and rate, the log's percentiles. Errors are the
 * answered requests that did not succeed (h2load: a 4xx/5xx or a reset stream) plus timeouts; the
 * 2xx count also holds the warm-up's answers, so it is not compared with the measured total.
 */
export function h2loadResult(summary: H2loadSummary, sortedMs: readonly number[]): LoadResult {
  if (sortedMs.length === 0) throw new Error(`h2load logged no request (${summary.total} total, ${summary.failed} failed, ${summary.errored} errored)`);
  return {
    requests: summary.done, ok: summary.succeeded, errors: summary.done - summary.succeeded + summary.timeout,
    rps: summary.rps, seconds: summary.seconds,
    p50: percentile(sortedMs, 50), p90: percentile(sortedMs, 90), p99: percentile(sortedMs, 99), p999: percentile(sortedMs, 99.9),
    max: sortedMs[sortedMs.length - 1]!,
  };
}

/** The connect-to-first-byte tool's output: one JSON object per run. */
export interface TtfbResult {
  /** connect() called → first byte received, ms, sorted */
  readonly firstByteMs: readonly number[];
  /** the TCP handshake alone, ms, sorted */
  readonly connectMs: readonly number[];
  readonly errors: number;
  readonly firstError?: string;
}

export function parseTtfb(text: string): TtfbResult {
  const line = text.trim().split('\n').filter(Boolean).pop() ?? '';
  let j: { firstByteMs?: unknown; connectMs?: unknown; errors?: unknown; firstError?: unknown };
  try {
    j = JSON.parse(line) as typeof j;
  } catch {
    throw new Error(`ttfb output is not JSON: ${line.slice(0, 200)}`);
  }
  const nums = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new Error(`ttfb output: ${what} must be a list of numbers`);
    return [...(v as number[])].sort((a, b) => a - b);
  };
  if (typeof j.errors !== 'number') throw new Error('ttfb output: errors must be a number');
  return {
    firstByteMs: nums(j.firstByteMs, 'firstByteMs'), connectMs: nums(j.connectMs, 'connectMs'), errors: j.errors,
    ...(typeof j.firstError === 'string' ? { firstError: j.firstError } : {}),
  };
}

/** Sum of request_total over the series with direction="outbound" (each request counted once per client node). */
export function outboundRequests(metrics: string): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('request_total{') || !line.includes('direction="outbound"')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}
