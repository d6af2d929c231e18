// The agent's span exporter: on a timer it drains the node proxy's bounded span queue (encoded as
// OTLP natively, no JavaScript per span) and sends it to the mesh's collector with a timeout. At most one export is in flight;
// while one is, nothing is drained (the native queue drops and counts), so a slow or dead
// collector costs neither traffic nor memory. Counts exported, dropped and failed exports.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../telemetry/index.js';
import { postTraces } from './otlp.js';

/** What the node proxy's takeSpans() answers (native/index.ts): the spans already encoded. */
export interface SpanBatch {
  /** one OTLP ExportTraceServiceRequest holding `count` spans */
  readonly body: Uint8Array;
  readonly count: number;
  /** spans dropped by the full native queue, in total */
  readonly dropped: number;
  /** spans still queued after this take */
  readonly queued: number;
}

export interface SpanExporterOptions {
  readonly node: string;
  /** takes up to `max` queued spans, encoded under `resource` */
  readonly take: (max: number, resource: Readonly<Record<string, string>>) => SpanBatch;
  readonly registry: Registry;
  readonly log: Logger;
  /** per export, default 2000 ms */
  readonly timeoutMs?: number;
  /** spans per export, default 2048 */
  readonly maxBatch?: number;
}

export class SpanExporter {
  readonly #o: SpanExporterOptions;
  #collector: string | undefined;
  #inFlight = false;
  #nativeDropped = 0;
  #failing = false;
  readonly #exported: Counter;
  readonly #dropped: Counter<'reason'>;
  readonly #failures: Counter;
  readonly #queued: Gauge;
  readonly #resource: Readonly<Record<string, string>>;

  constructor(o: SpanExporterOptions) {
    this.#o = o;
    this.#resource = { 'service.name': 'nodemesh-proxy', 'k8s.node.name': o.node, 'service.instance.id': o.node };
    const registers = [o.registry];
    this.#exported = new Counter({ name: 'nodemesh_trace_spans_exported_total', help: 'Spans the collector accepted', registers });
    this.#dropped = new Counter({ name: 'nodemesh_trace_spans_dropped_total', help: 'Spans lost: queue_full (the native queue was full), export_failed (the collector refused or did not answer), no_collector', labelNames: ['reason'], registers });
    this.#failures = new Counter({ name: 'nodemesh_trace_export_failures_total', help: 'OTLP exports that failed or timed out', registers });
    this.#queued = new Gauge({ name: 'nodemesh_trace_spans_queued', help: 'Spans waiting in the node proxy queue at the last drain', registers });
  }

  /** The collector (host:port) from the mesh settings; undefined turns export off. */
  setCollector(c: string | undefined): void {
    if (c !== this.#collector) this.#o.log.info({ collector: c ?? null }, c ? 'tracing: exporting spans over OTLP/HTTP' : 'tracing: off');
    this.#collector = c;
  }

  /** One drain (the agent's 1 s timer). Returns the export's promise, for tests and shutdown. */
  tick(): Promise<void> {
    if (this.#inFlight) return Promise.resolve();
    let b: SpanBatch;
    try { b = this.#o.take(this.#o.maxBatch ?? 2048, this.#resource); } catch { return Promise.resolve(); }
    if (b.dropped > this.#nativeDropped) this.#dropped.inc({ reason: 'queue_full' }, b.dropped - this.#nativeDropped);
    this.#nativeDropped = b.dropped;
    this.#queued.set(b.queued);
    if (b.count === 0) return Promise.resolve();
    const collector = this.#collector;
    const n = b.count;
    if (!collector) {
      this.#dropped.inc({ reason: 'no_collector' }, n);
      return Promise.resolve();
    }
    this.#inFlight = true;
    return postTraces(collector, b.body, this.#o.timeoutMs ?? 2000).then(() => {
      this.#exported.inc(n);
      if (this.#failing) this.#o.log.info({ collector }, 'tracing: the collector accepts spans again');
      this.#failing = false;
    }, (e: Error & { code?: string }) => {
      this.#failures.inc();
      this.#dropped.inc({ reason: 'export_failed' }, n);
      // once per outage, not once per second
      if (!this.#failing) this.#o.log.warn({ code: e.code ?? 'MESH_ERR_TRACE_EXPORT', spans: n }, e.message);
      this.#failing = true;
    }).finally(() => { this.#inFlight = false; });
  }
}
