// Test workloads for the simulated cluster: `workload echo` (an HTTP server that answers with what it
// saw — pod, client address, request — and a half-close friendly TCP echo) and `workload get` (HTTP
// GETs printing one JSON line per response), both tiny and dependency-free.

import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { MeshError } from '../common/errors.js';
import { intFlag, parseFlags, usageError } from './args.js';
import { usageOf } from './commands.js';

const PORT_RANGE = { min: 1, max: 65535 };

/** "::ffff:10.0.0.1" → "10.0.0.1" */
export function plainAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:/, '');
}

export interface EchoServers {
  readonly http?: http.Server;
  readonly tcp?: net.Server;
  close(): Promise<void>;
}

function listen(server: net.Server, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new MeshError('MESH_ERR_LISTEN', `${what} cannot listen on ${host}:${port}: ${e.message}; pick a free port`)));
    server.listen(port, host, () => resolve());
  });
}

/** Starts the echo servers (port 0 picks a free port; read it from server.address()). */
export async function startEcho(opts: { http?: number; tcp?: number; host?: string }): Promise<EchoServers> {
  const host = opts.host ?? '0.0.0.0';
  const me = {
    pod: process.env.POD_NAME ?? os.hostname(),
    namespace: process.env.POD_NAMESPACE ?? '',
    node: process.env.NODE_NAME ?? '',
    podIP: process.env.POD_IP ?? '',
  };
  let hs: http.Server | undefined;
  let ts: net.Server | undefined;
  if (opts.http !== undefined) {
    hs = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify({
          ...me,
          client: { address: plainAddress(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 },
          method: req.method ?? '',
          path: req.url ?? '/',
          headers: req.headers,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      });
    });
    await listen(hs, opts.http, host, 'echo HTTP server');
  }
  if (opts.tcp !== undefined) {
    ts = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s); // ends our side once the client's end has been read and everything echoed
    });
    await listen(ts, opts.tcp, host, 'echo TCP server');
  }
  const close = async (): Promise<void> => {
    hs?.closeAllConnections();
    await Promise.all([hs, ts].filter((s): s is net.Server => s !== undefined).map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  return { ...(hs ? { http: hs } : {}), ...(ts ? { tcp: ts } : {}), close };
}

export async function workloadEcho(argv: string[]): Promise<number> {
  const usage = usageOf(['workload', 'echo']);
  const { values } = parseFlags(argv, { http: { type: 'string' }, tcp: { type: 'string' } }, usage);
  const httpPort = intFlag(values, 'http', usage, PORT_RANGE);
  const tcpPort = intFlag(values, 'tcp', usage, PORT_RANGE);
  if (httpPort === undefined && tcpPort === undefined) throw usageError('give --http PORT, --tcp PORT or both', usage);
  const servers = await startEcho({ ...(httpPort !== undefined ? { http: httpPort } : {}), ...(tcpPort !== undefined ? { tcp: tcpPort } : {}) });
  process.stdout.write(`echo: pod ${process.env.POD_NAMESPACE ?? ''}/${process.env.POD_NAME ?? os.hostname()} listening${httpPort ? ` http=${httpPort}` : ''}${tcpPort ? ` tcp=${tcpPort}` : ''}\n`);
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
