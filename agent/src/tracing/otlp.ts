// The OTLP/HTTP trace encoder: finished spans (the node proxy's JSON records, or the test echo's
// own) → an ExportTraceServiceRequest (proto/opentelemetry/otlp-trace.proto, protobufjs at run
// time), and the decoder the unit tests round-trip through. One POST helper with a timeout.

import protobuf from 'protobufjs';
import { MeshError } from '../../../common/errors.js';
import { repoPath } from '../../../common/paths.js';

const PROTO = repoPath('proto/opentelemetry/otlp-trace.proto');

/** One finished span as the node proxy hands it over (native/src/l7/trace.rs `Span::to_json`). */
export interface SpanRecord {
  /** 32 lowercase hex digits */
  readonly traceId: string;
  /** 16 lowercase hex digits */
  readonly spanId: string;
  readonly parentSpanId?: string | null;
  readonly kind: 'client' | 'server';
  readonly name: string;
  /** Unix time in nanoseconds, as a decimal string (it does not fit a number) */
  readonly startNs: string;
  readonly endNs: string;
  readonly error: boolean;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
}

/** Who sent the spans: the OTLP resource (service.name, k8s.node.name, …) and scope. */
export interface SpanSource {
  readonly resource: Readonly<Record<string, string>>;
  readonly scope: string;
}

let types: { req: protobuf.Type; res: protobuf.Type } | undefined;
function load(): { req: protobuf.Type; res: protobuf.Type } {
  if (!types) {
    const root = protobuf.loadSync(PROTO);
    types = {
      req: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
      res: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    };
  }
  return types;
}

const KIND = { server: 2, client: 3 } as const;
const LONG = protobuf.util.Long as unknown as { fromString(s: string, unsigned: boolean): unknown };
const NS = /^[0-9]{1,20}$/;

/** A decimal nanosecond count as the exact 64-bit value protobufjs writes. */
function u64(ns: string): unknown {
  if (!NS.test(ns)) throw new MeshError('MESH_ERR_INVALID_ARG', `span time "${ns}" is not a decimal count of nanoseconds`);
  return LONG.fromString(ns, true);
}
const HEX = /^[0-9a-f]+$/;

function hexBytes(h: string, len: number, what: string): Buffer {
  if (h.length !== len * 2 || !HEX.test(h)) throw new MeshError('MESH_ERR_INVALID_ARG', `span ${what} "${h}" is not ${len * 2} lowercase hex digits`);
  return Buffer.from(h, 'hex');
}

function anyValue(v: string | number | boolean): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isSafeInteger(v) ? { intValue: v } : { doubleValue: v };
}

const attrs = (o: Readonly<Record<string, string | number | boolean>>): Record<string, unknown>[] =>
  Object.entries(o).map(([key, value]) => ({ key, value: anyValue(value) }));

/** Encodes spans of one source as an OTLP ExportTraceServiceRequest. */
export function encodeTraces(src: SpanSource, spans: readonly SpanRecord[]): Uint8Array {
  const { req } = load();
  const msg = {
    resourceSpans: [{
      resource: { attributes: attrs(src.resource) },
      scopeSpans: [{
        scope: { name: src.scope },
        spans: spans.map((s) => ({
          traceId: hexBytes(s.traceId, 16, 'traceId'),
          spanId: hexBytes(s.spanId, 8, 'spanId'),
          ...(s.parentSpanId ? { parentSpanId: hexBytes(s.parentSpanId, 8, 'parentSpanId') } : {}),
          name: s.name,
          kind: KIND[s.kind],
          startTimeUnixNano: u64(s.startNs),
          endTimeUnixNano: u64(s.endNs),
          attributes: attrs(s.attributes),
          status: { code: s.error ? 2 : 0 },
        })),
      }],
    }],
  };
  // the message is built in its wire types already: encode() without fromObject()'s conversion
  // pass, which costs several times the encoding itself
  return req.encode(msg).finish();
}

/** Decodes an ExportTraceServiceRequest back into records (tests; what a collector would read). */
export function decodeTraces(buf: Uint8Array): { resource: Record<string, string | number | boolean>; scope: string; spans: SpanRecord[] }[] {
  const { req } = load();
  const o = req.toObject(req.decode(buf), { longs: String, bytes: String, defaults: false }) as {
    resourceSpans?: { resource?: { attributes?: KV[] }; scopeSpans?: { scope?: { name?: string }; spans?: WireSpan[] }[] }[];
  };
  const hex = (b64: string | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('hex');
  const out = [];
  for (const rs of o.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      out.push({
        resource: kvs(rs.resource?.attributes),
        scope: ss.scope?.name ?? '',
        spans: (ss.spans ?? []).map((s): SpanRecord => ({
          traceId: hex(s.traceId), spanId: hex(s.spanId), ...(s.parentSpanId ? { parentSpanId: hex(s.parentSpanId) } : {}),
          kind: s.kind === 3 ? 'client' : 'server', name: s.name ?? '', startNs: s.startTimeUnixNano ?? '0', endNs: s.endTimeUnixNano ?? '0',
          error: s.status?.code === 2, attributes: kvs(s.attributes),
        })),
      });
    }
  }
  return out;
}

interface KV { key: string; value?: { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number } }
interface WireSpan {
  traceId?: string; spanId?: string; parentSpanId?: string; name?: string; kind?: number;
  startTimeUnixNano?: string; endTimeUnixNano?: string; attributes?: KV[]; status?: { code?: number };
}
function kvs(list: KV[] | undefined): Record<string, string | number | boolean> {
  const o: Record<string, string | number | boolean> = {};
  for (const { key, value: v } of list ?? []) o[key] = v?.stringValue ?? v?.boolValue ?? (v?.intValue !== undefined ? Number(v.intValue) : v?.doubleValue ?? '');
  return o;
}

/** POSTs one encoded request to `http://<collector>/v1/traces`; throws MESH_ERR_TRACE_EXPORT on
 *  a non-2xx answer, a refused connection or the timeout. */
export async function postTraces(collector: string, body: Uint8Array, timeoutMs: number): Promise<void> {
  const url = /^https?:\/\//.test(collector) ? `${collector.replace(/\/$/, '')}/v1/traces` : `http://${collector}/v1/traces`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new MeshError('MESH_ERR_TRACE_EXPORT', `OTLP export to ${url} failed (${(e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e as Error).message}); check that the collector runs and listens for OTLP/HTTP there`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new MeshError('MESH_ERR_TRACE_EXPORT', `OTLP export to ${url} answered HTTP ${res.status}; check that it is an OTLP/HTTP traces endpoint`);
}
