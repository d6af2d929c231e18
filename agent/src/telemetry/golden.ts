// Golden metrics of the HTTP proxy (Linkerd's request_total, response_total; the latency histogram
// in seconds, response_latency_seconds, as promtool requires) read from the native snapshot at scrape
// time: native code counts and buckets every request in ms (native/src/l7/metrics.rs); nothing here
// runs per request. One snapshot serves a whole scrape; buckets are rendered, never re-observed.

import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS, msToSeconds } from './metrics.js';

/** Label names of every golden series, in metrics.ts's style (src_/dst_ workload and namespace). */
export const GOLDEN_LABELS = ['direction', 'src_namespace', 'src_workload', 'dst_namespace', 'dst_workload', 'route_name', 'route_kind', 'backend', 'tls'] as const;
export type GoldenLabels = Record<(typeof GOLDEN_LABELS)[number], string>;

export interface GoldenResponse {
  readonly status_code: string;
  readonly classification: 'success' | 'failure';
  /** '' when the response is not gRPC */
  readonly grpc_status: string;
  readonly count: number;
}

export interface GoldenSeries {
  /** every value a string; the overflow series has "overflow" in each */
  readonly labels: GoldenLabels;
  readonly requests: number;
  readonly responses: readonly GoldenResponse[];
  /** `counts` per bucket, not cumulative, bucketsMs.length + 1 entries (the last: above the last bound) */
  readonly latency: { readonly count: number; readonly sumMs: number; readonly counts: readonly number[] };
}

/** The JSON `GoldenMetrics::snapshot()` returns (NodeProxy.goldenMetrics()). */
export interface GoldenSnapshot {
  readonly bucketsMs: readonly number[];
  readonly maxSeries: number;
  /** lookups of a new label set refused by the cap; their data went to the overflow series */
  readonly seriesOverflow: number;
  readonly series: readonly GoldenSeries[];
}

/** Where the snapshot comes from: the proxy, or nothing yet (no proxy running). A string is parsed. */
export type GoldenSource = () => GoldenSnapshot | string | undefined;

type HistogramData = Awaited<ReturnType<Histogram<string>['get']>>;

const LATENCY_NAME = 'response_latency_seconds';
const LATENCY_HELP = 'HTTP response latency (request arrival to response headers), seconds, by route and backend';

/** A scrape reads all three metrics within one tick: one snapshot for them, at most this old. */
const SNAPSHOT_MAX_AGE_MS = 100;

/** response_latency_seconds from native bucket counts: `get()` renders the snapshot (prom-client's
 *  Histogram keeps per-observation state we have no use for). */
class SnapshotHistogram extends Histogram<string> {
  readonly #read: () => GoldenSnapshot | undefined;

  constructor(registry: Registry, read: () => GoldenSnapshot | undefined) {
    super({ name: LATENCY_NAME, help: LATENCY_HELP, labelNames: GOLDEN_LABELS, buckets: LATENCY_BUCKETS_SECONDS, registers: [registry] });
    this.#read = read;
  }

  override async get(): Promise<HistogramData> {
    const snap = this.#read();
    const values: HistogramData['values'] = [];
    for (const s of snap?.series ?? []) {
      let acc = 0;
      // the bounds the counts were made with (native, ms), whatever this histogram was configured with
      (snap?.bucketsMs ?? []).forEach((ms, i) => {
        acc += s.latency.counts[i] ?? 0;
        values.push({ metricName: `${LATENCY_NAME}_bucket`, labels: { ...s.labels, le: msToSeconds(ms) }, value: acc });
      });
      values.push({ metricName: `${LATENCY_NAME}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.latency.count });
      values.push({ metricName: `${LATENCY_NAME}_sum`, labels: { ...s.labels }, value: msToSeconds(s.latency.sumMs) });
      values.push({ metricName: `${LATENCY_NAME}_count`, labels: { ...s.labels }, value: s.latency.count });
    }
    return { name: LATENCY_NAME, help: LATENCY_HELP, type: 'histogram', aggregator: 'sum', values } as unknown as HistogramData;
  }

  /** The Registry renders text from this when present (the parent's reads its own state). */
  async getForPromString(): Promise<HistogramData> {
    return this.get();
  }
}

/**
 * Register request_total, response_total, response_latency_seconds and
 * nodemesh_golden_series_overflow_total on `registry`, all read from `source` at scrape time.
 */
export function registerGoldenMetrics(registry: Registry, source: GoldenSource): void {
  let cached: { at: number; snap: GoldenSnapshot | undefined } | undefined;
  const read = (): GoldenSnapshot | undefined => {
    const now = performance.now();
    if (!cached || now - cached.at > SNAPSHOT_MAX_AGE_MS) {
      const got = source();
      cached = { at: now, snap: typeof got === 'string' ? (JSON.parse(got) as GoldenSnapshot) : got };
    }
    return cached.snap;
  };
  const r = [registry];
  new Counter({
    name: 'request_total',
    help: 'HTTP requests the node proxy received, by route and backend',
    labelNames: GOLDEN_LABELS,
    registers: r,
    collect() {
      this.reset();
      for (const s of read()?.series ?? []) this.inc(s.labels, s.requests);
    },
  });
  new Counter({
    name: 'response_total',
    help: 'HTTP responses sent, by status code, classification (5xx or gRPC status other than OK: failure) and gRPC status',
    labelNames: [...GOLDEN_LABELS, 'status_code', 'classification', 'grpc_status'],
    registers: r,
    collect() {
      this.reset();
      for (const s of read()?.series ?? []) {
        for (const x of s.responses) {
          this.inc({ ...s.labels, status_code: x.status_code, classification: x.classification, grpc_status: x.grpc_status }, x.count);
        }
      }
    },
  });
  new SnapshotHistogram(registry, read);
  new Counter({
    name: 'nodemesh_golden_series_overflow_total',
    help: 'Requests whose label set found the golden metrics series cap full (counted in the "overflow" series)',
    registers: r,
    collect() {
      this.reset();
      this.inc(read()?.seriesOverflow ?? 0);
    },
  });
}

/** One row of the native RouteStats snapshot (native/src/l7/route_stats.rs). */
export interface RouteStatRow {
  readonly route: string; readonly retries: number; readonly retryBudgetExhausted: number;
  readonly mirrorSent: number; readonly mirrorFailed: number; readonly mirrorSkipped: number;
}

/** Per-route counters read at scrape time: Linkerd's `outbound_http_route_retry_requests_total`
 *  and `outbound_http_route_retry_limit_exceeded_total` (the budget refused a retry), and
 *  `route_mirror_requests_total{result}` (sent: answered; failed; skipped: body not replayable,
 *  no endpoint, too many in flight). */
export function registerRouteStats(registry: Registry, read: () => readonly RouteStatRow[]): void {
  const r = [registry];
  for (const [name, key, help] of [
    ['outbound_http_route_retry_requests_total', 'retries', 'Retries the node proxy sent, by route'],
    ['outbound_http_route_retry_limit_exceeded_total', 'retryBudgetExhausted', 'Retries the route\'s retry budget refused (the failure went to the client), by route'],
  ] as const) {
    new Counter({
      name, help, labelNames: ['route_name'], registers: r,
      collect() {
        this.reset();
        for (const s of read()) if (s[key] > 0) this.inc({ route_name: s.route }, s[key]);
      },
    });
  }
  new Counter({
    name: 'route_mirror_requests_total',
    help: 'Requests copied to a RequestMirror backend, by route and result (sent: answered; failed; skipped: body not replayable, no endpoint or too many in flight)',
    labelNames: ['route_name', 'result'],
    registers: r,
    collect() {
      this.reset();
      for (const s of read()) {
        for (const [result, n] of [['sent', s.mirrorSent], ['failed', s.mirrorFailed], ['skipped', s.mirrorSkipped]] as const) if (n > 0) this.inc({ route_name: s.route, result }, n);
      }
    },
  });
}
