// Test workloads for the simulated cluster: `workload echo` (HTTP/1.1 + WebSocket, h2c and gRPC
// servers that answer who served, what they saw and how many HTTP requests they served, with
// per-request controls and a flaky mode; a half-close friendly TCP echo) and `workload get` (HTTP
// GETs printing one JSON line per response).

import http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import { MeshError } from '../common/errors.js';
import { intFlag, parseFlags, usageError } from './args.js';
import { usageOf } from './commands.js';
import { echoIdentity, Flaky, parseEchoFlags, type EchoOptions, type FailPlan } from './workload-controls.js';
import { listen, startH2cEcho, startHttpEcho } from './workload-http.js';
import { AppTracer } from './workload-trace.js';

export { plainAddress } from './workload-http.js';

export interface EchoServers {
  /** HTTP/1.1, WebSocket and h2c prior knowledge on one port. */
  readonly http?: net.Server;
  readonly tcp?: net.Server;
  readonly h2c?: http2.Http2Server;
  /** The bound gRPC port (grpc-js has no net.Server). */
  readonly grpcPort?: number;
  close(): Promise<void>;
}

export interface StartEchoOptions {
  readonly http?: number;
  readonly tcp?: number;
  readonly h2c?: number;
  readonly grpc?: number;
  readonly host?: string;
  readonly name?: string;
  readonly version?: string;
  readonly fail?: FailPlan;
  /** export a server span per sampled request to this OTLP/HTTP collector */
  readonly otlp?: string;
  /** The draw behind --fail-rate (tests pass a seeded one). */
  readonly random?: () => number;
}

/** Starts the echo servers (port 0 picks a free port; read it from server.address() or grpcPort). */
export async function startEcho(opts: StartEchoOptions): Promise<EchoServers> {
  const host = opts.host ?? '0.0.0.0';
  const id = echoIdentity(process.env, os.hostname(), { ...(opts.name !== undefined ? { name: opts.name } : {}), ...(opts.version !== undefined ? { version: opts.version } : {}) });
  const tracer = opts.otlp ? new AppTracer(opts.otlp, id.service || 'echo') : undefined;
  const ctx = { id, flaky: new Flaky(opts.fail, opts.random), served: { n: 0 }, ...(tracer ? { tracer } : {}) };
  const closers: (() => Promise<void>)[] = tracer ? [() => tracer.close()] : [];
  let closing: Promise<void> | undefined;
  const closeAll = (): Promise<void> => (closing ??= Promise.all(closers.map((c) => c())).then(() => undefined));
  try {
    let hs: net.Server | undefined;
    let h2: http2.Http2Server | undefined;
    let ts: net.Server | undefined;
    let grpcPort: number | undefined;
    if (opts.http !== undefined) {
      const s = await startHttpEcho(ctx, opts.http, host);
      closers.push(s.close);
      hs = s.server;
    }
    if (opts.h2c !== undefined) {
      const s = await startH2cEcho(ctx, opts.h2c, host);
      closers.push(s.close);
      h2 = s.server;
    }
    if (opts.tcp !== undefined) {
      const t = net.createServer({ allowHalfOpen: true }, (s) => {
        s.on('error', () => s.destroy());
        s.pipe(s); // ends our side once the client's end has been read and everything echoed
      });
      await listen(t, opts.tcp, host, 'echo TCP server');
      closers.push(() => new Promise<void>((r) => t.close(() => r())));
      ts = t;
    }
    if (opts.grpc !== undefined) {
      const { startGrpcEcho } = await import('./workload-grpc.js'); // grpc-js only when asked for
      const g = await startGrpcEcho(id, ctx.flaky, opts.grpc, host);
      closers.push(g.close);
      grpcPort = g.port;
    }
    return { ...(hs ? { http: hs } : {}), ...(ts ? { tcp: ts } : {}), ...(h2 ? { h2c: h2 } : {}), ...(grpcPort !== undefined ? { grpcPort } : {}), close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

function describeOptions(o: EchoOptions): string {
  const parts = (['http', 'h2c', 'grpc', 'tcp'] as const).filter((k) => o[k] !== undefined).map((k) => `${k}=${o[k]}`);
  if (o.name) parts.push(`service=${o.name}`);
  if (o.version) parts.push(`version=${o.version}`);
  if (o.fail) parts.push(o.fail.every > 0 ? `fail-every=${o.fail.every}` : `fail-rate=${o.fail.rate}`, `fail-status=${o.fail.status}`);
  return parts.join(' ');
}

export async function workloadEcho(argv: string[]): Promise<number> {
  const usage = usageOf(['workload', 'echo']);
  const o = parseEchoFlags(argv, usage);
  const servers = await startEcho(o);
  process.stdout.write(`echo: pod ${process.env.POD_NAMESPACE ?? ''}/${process.env.POD_NAME ?? os.hostname()} listening ${describeOptions(o)}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await servers.close();
  return 0;
}

export interface GetResult { readonly status: number; readonly body: unknown; readonly ms: number }

/** One GET on a fresh connection; rejects with MESH_ERR_COMMAND on a transport error or timeout. */
export function httpGet(url: string, timeoutMs: number): Promise<GetResult> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        clearTimeout(timer);
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
        resolve({ status: res.statusCode ?? 0, body, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
      });
      res.on('error', (e) => req.destroy(e));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(new MeshError('MESH_ERR_COMMAND', `GET ${url} failed: ${e.message}; is the server running and reachable from this pod?`, { cause: e }));
    });
  });
}

export async function workloadGet(argv: string[]): Promise<number> {
  const usage = usageOf(['workload', 'get']);
  const { values, positionals } = parseFlags(argv, { count: { type: 'string' }, 'timeout-ms': { type: 'string' } }, usage, { min: 1, max: 1 });
  const count = intFlag(values, 'count', usage, { min: 1, max: 1_000_000 }) ?? 1;
  const timeoutMs = intFlag(values, 'timeout-ms', usage, { min: 1, max: 600_000 }) ?? 5000;
  const url = positionals[0]!;
  let parsed: URL;
  try { parsed = new URL(url); } catch { throw usageError(`"${url}" is not a URL`, usage); }
  if (parsed.protocol !== 'http:') throw usageError(`only http:// URLs are supported, got "${parsed.protocol}"`, usage);
  for (let i = 0; i < count; i++) {
    const r = await httpGet(url, timeoutMs);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  return 0;
}
