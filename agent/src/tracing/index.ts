// Tracing in the agent: the OTLP/HTTP encoder and the exporter that drains the node proxy's span
// queue (docs/tracing.md).

export { SpanExporter, type SpanBatch, type SpanExporterOptions } from './exporter.js';
export { decodeTraces, encodeTraces, postTraces, type SpanRecord, type SpanSource } from './otlp.js';
