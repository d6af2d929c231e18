// Parsers for the output of the load tools the benchmark drives: sockperf's summary (percentiles in
// microseconds, message counts, run time) and iperf3's JSON report, plus /proc/PID/stat and
// /proc/PID/status readers' pure halves. Pure functions: text in, numbers out, errors say what is missing.

export interface SockperfResult {
  /** percentile (as printed: 50, 99, 99.9, …) → microseconds */
  readonly percentiles: ReadonlyMap<number, number>;
  readonly p50: number;
  readonly p90: number | undefined;
  readonly p99: number;
  readonly p999: number;
  readonly min: number;
  readonly max: number;
  readonly avg: number | undefined;
  readonly observations: number;
  /** whole run, warm-up excluded: messages sent and answered */
  readonly totalSent: number;
  readonly totalReceived: number;
  readonly totalSeconds: number;
  /** the measured part ("[Valid Duration]") */
  readonly validSeconds: number;
  readonly validReceived: number;
  readonly dropped: number;
}

export class ParseError extends Error {
  override readonly name = 'ParseError';
}

function num(s: string | undefined, what: string, text: string): number {
  const v = s === undefined ? NaN : Number(s);
  if (!Number.isFinite(v)) throw new ParseError(`sockperf output has no ${what}; its last lines:\n${text.trim().split('\n').slice(-8).join('\n')}`);
  return v;
}

/** Parses `sockperf ping-pong|under-load` stdout (v3.x, with or without --full-rtt, colour codes ok). */
export function parseSockperf(raw: string): SockperfResult {
  const text = raw.replace(/\x1b\[[0-9;]*m/g, '');
  const percentiles = new Map<number, number>();
  for (const m of text.matchAll(/percentile\s+([\d.]+)\s*=\s*([\d.]+)/g)) percentiles.set(Number(m[1]), Number(m[2]));
  const total = /\[Total Run\]\s*RunTime=([\d.]+)\s*sec;.*?SentMessages=(\d+);\s*ReceivedMessages=(\d+)/.exec(text);
  const valid = /\[Valid Duration\]\s*RunTime=([\d.]+)\s*sec;\s*SentMessages=(\d+);\s*ReceivedMessages=(\d+)/.exec(text);
  const obs = /Total\s+(\d+)\s+observations/.exec(text);
  const max = /<MAX> observation\s*=\s*([\d.]+)/.exec(text);
  const min = /<MIN> observation\s*=\s*([\d.]+)/.exec(text);
  const avg = /avg-(?:rtt|latency)=([\d.]+)/.exec(text);
  const dropped = /# dropped messages = (\d+)/.exec(text);
  const p = (k: number, what: string): number => num(percentiles.has(k) ? String(percentiles.get(k)) : undefined, what, text);
  return {
    percentiles,
    p50: p(50, 'percentile 50'),
    p90: percentiles.get(90),
    p99: p(99, 'percentile 99'),
    p999: p(99.9, 'percentile 99.9'),
    min: num(min?.[1], '<MIN> observation', text),
    max: num(max?.[1], '<MAX> observation', text),
    avg: avg ? Number(avg[1]) : undefined,
    observations: num(obs?.[1], '"Total N observations"', text),
    totalSeconds: num(total?.[1], '[Total Run] RunTime', text),
    totalSent: num(total?.[2], '[Total Run] SentMessages', text),
    totalReceived: num(total?.[3], '[Total Run] ReceivedMessages', text),
    validSeconds: num(valid?.[1], '[Valid Duration] RunTime', text),
    validReceived: num(valid?.[3], '[Valid Duration] ReceivedMessages', text),
    dropped: dropped ? Number(dropped[1]) : 0,
  };
}

export interface IperfResult {
  /** receiver side, bits per second */
  readonly bitsPerSecond: number;
  /** bytes the receiver got */
  readonly bytes: number;
  readonly seconds: number;
  readonly retransmits: number | undefined;
}

/** Parses `iperf3 -c … -J` output; an iperf3 "error" field becomes a ParseError with its text. */
export function parseIperf3(raw: string): IperfResult {
  let j: unknown;
  try {
    j = JSON.parse(raw);
  } catch {
    throw new ParseError(`iperf3 output is not JSON (was -J given?): ${raw.trim().slice(0, 200)}`);
  }
  const o = j as { error?: unknown; end?: { sum_received?: Record<string, unknown>; sum_sent?: Record<string, unknown> } };
  if (typeof o.error === 'string') throw new ParseError(`iperf3 failed: ${o.error}`);
  const r = o.end?.sum_received;
  const s = o.end?.sum_sent;
  const bps = r?.bits_per_second;
  const bytes = r?.bytes;
  const seconds = r?.seconds;
  if (typeof bps !== 'number' || typeof bytes !== 'number' || typeof seconds !== 'number') {
    throw new ParseError('iperf3 JSON has no end.sum_received {bits_per_second, bytes, seconds}');
  }
  return { bitsPerSecond: bps, bytes, seconds, retransmits: typeof s?.retransmits === 'number' ? s.retransmits : undefined };
}

/** utime + stime in clock ticks from the text of /proc/PID/stat (fields 14 and 15). */
export function parseProcStatTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new ParseError('not a /proc/PID/stat line (no ")")');
  // after ") " come field 3 (state), 4, …; utime is field 14 → index 11, stime field 15 → index 12
  const rest = stat.slice(close + 2).trim().split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new ParseError('/proc/PID/stat has no utime/stime');
  return utime + stime;
}

/** VmRSS in KiB from the text of /proc/PID/status (undefined for a zombie or kernel thread). */
export function parseVmRssKiB(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/** Sum of all samples of a Prometheus counter or gauge `name` in an exposition text (any labels). */
export function promSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}
