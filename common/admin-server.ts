// The admin HTTP endpoint of the agent (15020) and the controller (15014), on TCP and optionally a
// unix socket (the simulated cluster): /metrics, /ready, /live, /config_dump plus component routes
// (e.g. the controller's /debug/snapshot). GET handlers only read state already held; POST
// actions (the controller's CA rotation) are served on the unix socket only, never on TCP.

import http from 'node:http';
import { existsSync, unlinkSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { MeshError } from './errors.js';

export interface AdminSources {
  readonly registry: Registry;
  ready(): { ready: boolean; reason?: string };
  configDump(): unknown;
  /** extra GET routes: path → JSON body (undefined → 404) */
  readonly routes?: Readonly<Record<string, (q: URLSearchParams) => unknown>>;
  /** POST routes, unix socket only (file permissions are the access control): path → JSON body */
  readonly actions?: Readonly<Record<string, (q: URLSearchParams) => Promise<unknown>>>;
}

export class AdminServer {
  readonly #servers: http.Server[] = [];
  readonly #src: AdminSources;

  constructor(src: AdminSources) {
    this.#src = src;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse, local: boolean): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && local && url && this.#src.actions?.[url]) {
      try {
        const body = await this.#src.actions[url](new URL(req.url ?? '/', 'http://x').searchParams);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2));
      } catch (e) {
        const err = e as { code?: string; message?: string };
        res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ code: err.code ?? 'MESH_ERR_INTERNAL', message: err.message ?? String(e) }));
      }
      return;
    }
    if (req.method !== 'GET') { res.writeHead(405, { 'content-type': 'text/plain' }).end(local && this.#src.actions ? `POST only: ${Object.keys(this.#src.actions).join(' ')}\n` : 'GET only\n'); return; }
    switch (url) {
      case '/metrics': {
        const body = await this.#src.registry.metrics();
        res.writeHead(200, { 'content-type': this.#src.registry.contentType }).end(body);
        return;
      }
      case '/ready': {
        const r = this.#src.ready();
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(r.ready ? `ready${r.reason ? ` (${r.reason})` : ''}\n` : `not ready: ${r.reason ?? ''}\n`);
        return;
      }
      case '/live':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('live\n');
        return;
      case '/debug/block-event-loop': {
        // Test hook (NODEMESH_DEBUG=1 only): blocks the event loop to show that connection
        // setup never waits on it. Off by default; never enabled by the shipped manifests.
        if (process.env.NODEMESH_DEBUG !== '1') { res.writeHead(404).end(); return; }
        const ms = Math.min(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0), 10_000);
        const until = Date.now() + ms;
        while (Date.now() < until) { /* busy: the loop is stuck on purpose */ }
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`blocked ${ms} ms\n`);
        return;
      }
      case '/config_dump':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.#src.configDump(), null, 2));
        return;
      default: {
        const route = url ? this.#src.routes?.[url] : undefined;
        const body = route?.(new URL(req.url ?? '/', 'http://x').searchParams);
        if (body !== undefined) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2));
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`endpoints: /metrics /ready /live /config_dump ${Object.keys(this.#src.routes ?? {}).join(' ')}\n`);
      }
    }
  }

  async #listen(target: { port: number; host: string } | { path: string }): Promise<void> {
    const local = 'path' in target;
    const server = http.createServer((req, res) => {
      this.#handle(req, res, local).catch((e: unknown) => { if (!res.headersSent) res.writeHead(500).end(String(e)); });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new MeshError('MESH_ERR_LISTEN', `admin server cannot listen on ${JSON.stringify(target)}: ${e.message}; is another agent running on this node?`)));
      server.listen(target, () => resolve());
    });
    server.unref();
    this.#servers.push(server);
  }

  async listenTcp(port: number, host = '0.0.0.0'): Promise<void> {
    await this.#listen({ port, host });
  }

  async listenUnix(socketPath: string): Promise<void> {
    if (existsSync(socketPath)) unlinkSync(socketPath);
    await this.#listen({ path: socketPath });
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
  }
}
