// The echo's own tracing (`workload echo --otlp URL`): one SERVER span per HTTP request whose
// incoming `traceparent` is sampled, as a child of it, exported in batches over OTLP/HTTP with the
// agent's encoder. The application never starts a trace itself: new roots are the mesh's decision.

import { randomBytes } from 'node:crypto';
import { encodeTraces, postTraces, type SpanRecord } from '../agent/src/tracing/index.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const MAX_QUEUE = 1024;

/** (traceId, parentId) of a sampled `traceparent`; undefined when absent, invalid or unsampled. */
export function sampledParent(v: string | string[] | undefined): { traceId: string; parentId: string } | undefined {
  const m = typeof v === 'string' ? TRACEPARENT.exec(v.trim()) : null;
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!) || (parseInt(m[4]!, 16) & 1) === 0) return undefined;
  return { traceId: m[2]!, parentId: m[3]! };
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;

export interface AppSpan { readonly traceId: string; readonly parentId: string; readonly start: bigint; readonly method: string; readonly path: string }

export class AppTracer {
  readonly #collector: string;
  readonly #service: string;
  #queue: SpanRecord[] = [];
  #timer: NodeJS.Timeout;
  #sending = false;
  dropped = 0;

  constructor(collector: string, service: string, flushMs = 500) {
    this.#collector = collector;
    this.#service = service;
    this.#timer = setInterval(() => void this.flush(), flushMs);
    this.#timer.unref();
  }

  start(headers: Record<string, string | string[] | undefined>, method: string, url: string): AppSpan | undefined {
    const p = sampledParent(headers.traceparent);
    if (!p) return undefined;
    return { ...p, start: nowNs(), method, path: url.split('?')[0] ?? '/' };
  }

  end(s: AppSpan, status: number): void {
    if (this.#queue.length >= MAX_QUEUE) { this.dropped++; return; }
    this.#queue.push({
      traceId: s.traceId, spanId: randomBytes(8).toString('hex'), parentSpanId: s.parentId, kind: 'server',
      name: `${s.method} ${s.path}`, startNs: String(s.start), endNs: String(nowNs()), error: status >= 500,
      attributes: { 'http.request.method': s.method, 'url.path': s.path, 'http.response.status_code': status },
    });
  }

  async flush(): Promise<void> {
    if (this.#sending || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#sending = true;
    try {
      await postTraces(this.#collector, encodeTraces({ resource: { 'service.name': this.#service }, scope: 'nodemesh-echo' }, batch), 2000);
    } catch {
      this.dropped += batch.length;
    } finally {
      this.#sending = false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
