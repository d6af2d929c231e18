// The echo's HTTP handler for HTTP/1.1 and h2c (--http serves both, told apart by the first bytes, plus
// WebSocket; --h2c serves HTTP/2 prior knowledge only): GET answers a JSON description of the request
// (ours plus the Gateway API conformance echo's fields), POST streams its body back with its trailers;
// every answer but a 400 carries x-echo-requests, the process's request count.

import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { MeshError } from '../common/errors.js';
import { conformanceHeaders, identityHeaders, requestControls, TOKEN, type EchoIdentity, type Flaky, type RequestControls } from './workload-controls.js';
import type { AppTracer } from './workload-trace.js';
import { isWebSocketUpgrade, serveWebSocket } from './workload-ws.js';

/** `served` counts every request this process's HTTP servers handled (h1, h2c, WebSocket upgrades). */
export interface EchoContext { readonly id: EchoIdentity; readonly flaky: Flaky; readonly served: { n: number }; readonly tracer?: AppTracer }

type Req = http.IncomingMessage | http2.Http2ServerRequest;
/** What the handler needs of http.ServerResponse and http2.Http2ServerResponse alike. */
interface Res {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  write(chunk: string): unknown;
  addTrailers(trailers: Record<string, string>): void;
  end(): unknown;
  end(chunk: string): unknown;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/** "::ffff:10.0.0.1" → "10.0.0.1" */
export function plainAddress(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:/, '');
}

/** The JSON an echo GET answers: ours (pod … headers) plus the conformance echo's host, proto and headers. */
export function describeRequest(req: Req, id: EchoIdentity, served?: number): Record<string, unknown> {
  const h2 = req.httpVersionMajor === 2;
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(':')) headers[k] = v;
  return {
    ...id,
    client: { address: plainAddress(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 },
    method: req.method ?? '',
    path: req.url ?? '/',
    host: (h2 ? req.headers[':authority'] : undefined) ?? req.headers.host ?? '',
    proto: h2 ? 'HTTP/2.0' : `HTTP/${req.httpVersion}`,
    headers,
    conformanceHeaders: conformanceHeaders(req.rawHeaders),
    ...(served !== undefined ? { served } : {}),
  };
}

/** set-header pairs → one value per name (repeats joined with ","), the first spelling of the name kept. */
function merged(pairs: readonly [string, string][]): Record<string, string> {
  const byLower = new Map<string, [string, string]>();
  for (const [n, v] of pairs) {
    const e = byLower.get(n.toLowerCase());
    if (e) e[1] += `,${v}`;
    else byLower.set(n.toLowerCase(), [n, v]);
  }
  return Object.fromEntries(byLower.values());
}

function requestTrailers(req: Req): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.trailers)) if (typeof v === 'string' && !k.startsWith(':')) out[k] = v;
  return out;
}

function sendJson(res: Res, status: number, headers: Record<string, string>, body: unknown, trailers: Record<string, string>, head: boolean): void {
  const text = JSON.stringify(body);
  const noBody = head || status === 204 || status === 304;
  const chunked = Object.keys(trailers).length > 0; // HTTP/1.1 sends trailers only in chunked bodies
  const h: Record<string, string | number> = { ...headers, 'content-type': 'application/json' };
  if (!chunked && !noBody) h['content-length'] = Buffer.byteLength(text);
  if (chunked) h.trailer = Object.keys(trailers).join(', ');
  res.writeHead(status, h);
  if (chunked) res.addTrailers(trailers);
  if (noBody) res.end();
  else res.end(text);
}

function respond(ctx: EchoContext, req: Req, res: Res, c: RequestControls, idh: Record<string, string>): void {
  const status = c.status ?? 200;
  const headers = { ...idh, ...merged(c.setHeaders) };
  const setTrailers = merged(c.setTrailers);
  if (req.method === 'POST') {
    // Streaming echo: the body goes back as it arrives (pipe keeps backpressure), the trailers after it.
    const h: Record<string, string> = { ...headers, 'content-type': req.headers['content-type'] ?? 'application/octet-stream' };
    res.writeHead(status, h);
    req.pipe(res as unknown as NodeJS.WritableStream, { end: false });
    req.once('end', () => {
      const t = { ...requestTrailers(req), ...setTrailers };
      if (Object.keys(t).length > 0) res.addTrailers(t);
      res.end();
    });
    return;
  }
  req.resume();
  const stall = c.bodyDelayMs;
  const served = ctx.served.n;
  const answer = stall !== undefined && stall > 0 && req.method !== 'HEAD'
    ? (): void => {
      // the head and the body's first byte now, the rest after the stall (a body that hangs)
      const text = JSON.stringify(describeRequest(req, ctx.id, served));
      res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, 1));
      const timer = setTimeout(() => res.end(text.slice(1)), stall);
      res.once('close', () => clearTimeout(timer));
    }
    : (): void => sendJson(res, status, headers, describeRequest(req, ctx.id, served), setTrailers, req.method === 'HEAD');
  if (req.readableEnded) answer();
  else req.once('end', answer);
}

/** The handler of both servers. Errors in controls answer 400 with what to send instead. */
export function echoHandler(ctx: EchoContext): (req: Req, res: Res) => void {
  return (req, res) => {
    ctx.served.n += 1;
    req.on('error', () => res.destroy());
    const url = req.url ?? '/';
    const span = ctx.tracer?.start(req.headers, req.method ?? '', url);
    if (span) res.once('close', () => ctx.tracer!.end(span, (res as unknown as { statusCode: number }).statusCode));
    const qi = url.indexOf('?');
    const r = requestControls(qi < 0 ? '' : url.slice(qi + 1), (n) => req.headers[n]);
    if (!r.ok) {
      req.resume();
      sendJson(res, 400, identityHeaders(ctx.id), { message: r.error, ...ctx.id }, {}, req.method === 'HEAD');
      return;
    }
    const failing = ctx.flaky.next();
    // the requests this process has answered with controls it could read, this one included
    const idh = { ...identityHeaders(ctx.id), 'x-echo-requests': String(ctx.flaky.count) };
    if (failing) {
      req.resume();
      const body = { message: `injected failure (${ctx.flaky.describe()})`, ...describeRequest(req, ctx.id) };
      sendJson(res, ctx.flaky.plan!.status, { ...idh, 'x-echo-failed': 'true' }, body, {}, req.method === 'HEAD');
      return;
    }
    const c = r.controls;
    const go = (): void => {
      try {
        respond(ctx, req, res, c, idh);
      } catch (e) { // a header value Node refuses to send (x-echo-set-header with control characters)
        try { sendJson(res, 400, idh, { message: `cannot answer as asked: ${(e as Error).message}`, ...ctx.id }, {}, false); } catch { res.destroy(); }
      }
    };
    if (c.delayMs === undefined || c.delayMs === 0) return go();
    const timer = setTimeout(go, c.delayMs);
    res.once('close', () => clearTimeout(timer)); // a client (or a proxy timeout) gave up: no late answer
  };
}

/** An Upgrade other than websocket is ignored (RFC 9110 §7.8 allows it): answered as a GET, then closed. */
function ignoreUpgrade(ctx: EchoContext, req: http.IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  const url = req.url ?? '/';
  const r = requestControls(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '', (n) => req.headers[n]);
  const status = r.ok ? r.controls.status ?? 200 : 400;
  const body = JSON.stringify(r.ok ? describeRequest(req, ctx.id) : { message: r.error, ...ctx.id });
  const headers = { ...identityHeaders(ctx.id), ...(r.ok ? merged(r.controls.setHeaders) : {}), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`, ...Object.entries(headers).filter(([k, v]) => TOKEN.test(k) && !/[\r\n]/.test(v)).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

export interface Closable { close(): Promise<void> }

export function listen(server: net.Server, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new MeshError('MESH_ERR_LISTEN', `${what} cannot listen on ${host}:${port}: ${e.message}; pick a free port`)));
    server.listen(port, host, () => resolve());
  });
}


const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** First bytes of a connection → HTTP/2 prior knowledge ('h2'), anything else ('h1'), or 'more' to wait for. */
export function sniffPreface(first: Buffer): 'h2' | 'h1' | 'more' {
  const n = Math.min(first.length, PREFACE.length);
  if (!first.subarray(0, n).equals(PREFACE.subarray(0, n))) return 'h1';
  return n >= 4 ? 'h2' : 'more'; // "PRI " is no HTTP/1 method; fewer bytes could still be "POST"
}

function h2Server(ctx: EchoContext): { server: http2.Http2Server; destroy(): void } {
  const handle = echoHandler(ctx);
  const server = http2.createServer({}, (req, res) => handle(req, res));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('error', () => s.destroy());
    s.once('close', () => sessions.delete(s));
  });
  return { server, destroy: () => { for (const s of sessions) s.destroy(); } };
}

/**
 * HTTP/1.1 echo with WebSocket echo, and h2c prior knowledge on the same port (a proxy may forward
 * HTTP/2 upstream): the first bytes pick the server, as Go's h2c handler does for the conformance echo.
 */
export async function startHttpEcho(ctx: EchoContext, port: number, host: string): Promise<{ server: net.Server } & Closable> {
  const handle = echoHandler(ctx);
  const h1 = http.createServer((req, res) => handle(req, res));
  const h2 = h2Server(ctx);
  const upgraded = new Set<Duplex>();
  h1.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    ctx.served.n += 1;
    if (!isWebSocketUpgrade(req)) return ignoreUpgrade(ctx, req, socket);
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    serveWebSocket(req, socket, head, identityHeaders(ctx.id));
  });
  h1.on('clientError', (_e, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n'); else socket.destroy(); });
  const waiting = new Set<net.Socket>();
  // every accepted socket: h1 never listens itself, so its closeAllConnections() tracks nothing,
  // and a keep-alive connection would keep a closed echo answering (and the process alive)
  const accepted = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    accepted.add(sock);
    sock.once('close', () => accepted.delete(sock));
    waiting.add(sock);
    sock.on('error', () => sock.destroy());
    sock.once('close', () => waiting.delete(sock));
    let seen = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      seen = Buffer.concat([seen, d]);
      const kind = sniffPreface(seen);
      if (kind === 'more') return;
      sock.removeListener('data', onData);
      sock.pause();
      sock.unshift(seen);
      waiting.delete(sock);
      (kind === 'h2' ? h2.server : h1).emit('connection', sock);
      process.nextTick(() => sock.resume());
    };
    sock.on('data', onData);
  });
  await listen(server, port, host, 'echo HTTP server');
  return {
    server,
    close: async () => {
      h1.closeAllConnections();
      h2.destroy();
      for (const s of [...upgraded, ...waiting, ...accepted]) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** h2c echo (HTTP/2 with prior knowledge only, no TLS): the same handler, trailers both ways. */
export async function startH2cEcho(ctx: EchoContext, port: number, host: string): Promise<{ server: http2.Http2Server } & Closable> {
  const h2 = h2Server(ctx);
  await listen(h2.server, port, host, 'echo h2c server');
  return {
    server: h2.server,
    close: async () => {
      h2.destroy();
      await new Promise<void>((r) => h2.server.close(() => r()));
    },
  };
}
