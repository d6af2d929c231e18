// The controller's web UI and insight API (TCP --ui-port, default 8084, and a unix socket in the
// simulated cluster): static assets shipped with the build (nothing from a CDN), JSON under /api/,
// and /api/tap as a newline-delimited JSON stream. On TCP, a --user-tokens file or Kubernetes RBAC
// (kube-auth.ts) scopes Bearer-token callers to namespaces; the unix socket's file permissions are
// its access control.

import http from 'node:http';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../common/errors.js';
import { repoPath } from '../common/paths.js';
import type { StatKind } from '../controller/src/insight/index.js';
import { ADMIN, Insight, maySee, parseWindow, type Caller, type InsightSource } from './api.js';
import type { Access, KubeUserAuth } from './kube-auth.js';

const ASSETS: Readonly<Record<string, string>> = { '/': 'index.html', '/index.html': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css' };
const TYPES: Readonly<Record<string, string>> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
/** HTTP status of an error code; any other code is a 500 */
const STATUS: Readonly<Record<string, number>> = {
  MESH_ERR_AUTH: 401, MESH_ERR_TAP_FORBIDDEN: 403, MESH_ERR_NOT_FOUND: 404, MESH_ERR_USAGE: 400,
  MESH_ERR_KUBE_API: 503, MESH_ERR_KUBE_FORBIDDEN: 503, MESH_ERR_KUBE_CONFIG: 503,
};
/** a tap consumer with more than this unread is cut off */
const TAP_MAX_BUFFERED = 256 * 1024;

export interface DashboardOptions {
  readonly source: InsightSource;
  /** token → caller, for TCP requests (--user-tokens) */
  readonly users?: ReadonlyMap<string, Caller>;
  /** Kubernetes TokenReview + RBAC for TCP requests (--user-auth kubernetes); with neither, TCP
   *  callers see everything (protect the port) */
  readonly kube?: KubeUserAuth;
}

/** Reads a --user-tokens file: {"<token>": {"user": "...", "namespaces": ["ns", ...] | "*"}}. */
export function readUserTokens(file: string): Map<string, Caller> {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
    throw new MeshError('MESH_ERR_CONFIG', `cannot read user tokens from ${file}: ${(e as Error).message}; it must be JSON {"<token>": {"user": "...", "namespaces": ["ns"] | "*"}}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new MeshError('MESH_ERR_CONFIG', `${file}: expected a JSON object of tokens`);
  const out = new Map<string, Caller>();
  for (const [tok, v] of Object.entries(raw as Record<string, { user?: unknown; namespaces?: unknown }>)) {
    const ns = v?.namespaces;
    if (typeof v?.user !== 'string' || !(ns === '*' || (Array.isArray(ns) && ns.every((x) => typeof x === 'string')))) throw new MeshError('MESH_ERR_CONFIG', `${file}: token entry for user ${JSON.stringify(v?.user)}: needs "user" (string) and "namespaces" (["ns", …] or "*")`);
    out.set(tok, { user: v.user, namespaces: ns === '*' ? '*' : new Set(ns as string[]) });
  }
  return out;
}

export class DashboardServer {
  readonly insight: Insight;
  readonly #o: DashboardOptions;
  readonly #servers: http.Server[] = [];
  readonly #taps = new Set<{ close(reason?: string): void }>();

  constructor(o: DashboardOptions) {
    this.#o = o;
    this.insight = new Insight(o.source);
  }

  /** Who asks, and which namespaces they may see for `access` (all the model knows, or `only`). */
  async #caller(req: http.IncomingMessage, local: boolean, access: Access, only?: string): Promise<Caller> {
    if (local || (!this.#o.users && !this.#o.kube)) return ADMIN;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (this.#o.kube) {
      if (!m) throw new MeshError('MESH_ERR_AUTH', 'this endpoint needs a Kubernetes token: send Authorization: Bearer <token> (nodemesh stat --token, or the token field of the web UI)');
      return this.#o.kube.caller(m[1]!, only !== undefined ? [only] : this.insight.namespaces(), access);
    }
    const c = m ? this.#o.users!.get(m[1]!) : undefined;
    if (!c) throw new MeshError('MESH_ERR_AUTH', 'this endpoint needs a token: send Authorization: Bearer <token> (a token from the controller\'s --user-tokens file)');
    return c;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse, local: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const asset = ASSETS[url.pathname];
    if (req.method !== 'GET') { res.writeHead(405).end(); return; }
    if (asset) {
      const file = path.join(repoPath('dashboard/assets'), asset);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' }).end(readFileSync(file));
      return;
    }
    const q = url.searchParams;
    const json = (status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)); };
    try {
      const ns = q.get('namespace') ?? undefined;
      const tapNs = url.pathname === '/api/tap' ? (q.get('target') ?? '').split('/')[0] || undefined : undefined;
      const podNs = url.pathname === '/api/explain' ? (q.get('pod') ?? q.get('src') ?? '').split('/')[0] || undefined : undefined;
      const c = await this.#caller(req, local, url.pathname === '/api/tap' ? 'taps' : 'stats', tapNs ?? podNs ?? (url.pathname === '/api/stat' ? ns : undefined));
      switch (url.pathname) {
        case '/api/stat': {
          const kind = (q.get('kind') ?? 'workload') as StatKind;
          if (!['workload', 'service', 'route'].includes(kind)) throw new MeshError('MESH_ERR_USAGE', `kind must be workload, service or route, got "${kind}"`);
          json(200, this.insight.stat(c, kind, { ...(ns ? { namespace: ns } : {}), ...(q.get('name') ? { name: q.get('name')! } : {}), ...(q.get('from') ? { from: q.get('from')! } : {}), windowMs: parseWindow(q.get('window')) }));
          return;
        }
        case '/api/graph': json(200, this.insight.graph(c, parseWindow(q.get('window')))); return;
        case '/api/workloads': json(200, { workloads: this.insight.workloads(c) }); return;
        case '/api/nodes': json(200, { nodes: this.insight.nodes() }); return;
        case '/api/explain': {
          const pod = q.get('pod');
          const src = q.get('src');
          const dst = q.get('dst');
          if (pod) { json(200, this.insight.explainPod(c, pod)); return; }
          if (src && dst) {
            const headers = Object.fromEntries(q.getAll('header').map((h) => [h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim()]));
            json(200, this.insight.explainPair(c, src, dst, { ...(q.get('method') ? { method: q.get('method')! } : {}), ...(q.get('path') ? { path: q.get('path')! } : {}), ...(q.get('authority') ? { authority: q.get('authority')! } : {}), headers }));
            return;
          }
          throw new MeshError('MESH_ERR_USAGE', 'give ?pod=NS/NAME, or ?src=NS/POD&dst=HOST:PORT');
        }
        case '/api/tap': this.#tap(c, q, res); return;
        default: json(404, { code: 'MESH_ERR_NOT_FOUND', message: `no such endpoint ${url.pathname}` });
      }
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'MESH_ERR_INTERNAL';
      const status = STATUS[code] ?? 500;
      if (!res.headersSent) json(status, { code, message: (e as Error).message });
      else res.destroy();
    }
  }

  #tap(c: Caller, q: URLSearchParams, res: http.ServerResponse): void {
    const target = q.get('target') ?? '';
    const [namespace = '', workload = ''] = target.split('/');
    if (!namespace) throw new MeshError('MESH_ERR_USAGE', 'tap needs ?target=NAMESPACE or NAMESPACE/WORKLOAD');
    if (!maySee(c, namespace)) throw new MeshError('MESH_ERR_TAP_FORBIDDEN', `${c.user} may not tap namespace "${namespace}"; ask for a token that grants it`);
    const maxPerSecond = Number(q.get('max_rps') ?? 100);
    if (!Number.isInteger(maxPerSecond) || maxPerSecond < 1 || maxPerSecond > 10_000) throw new MeshError('MESH_ERR_USAGE', `max_rps must be an integer 1..10000, got "${q.get('max_rps')}"`);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    const sock = res.socket;
    let ended = false;
    const session = this.insight.tap({ namespace, workload, method: q.get('method') ?? '', pathPrefix: q.get('path') ?? '', maxPerSecond },
      (r) => {
        if (res.writableLength > TAP_MAX_BUFFERED) return false;
        res.write(`${JSON.stringify(r)}\n`);
        return true;
      },
      (reason) => {
        ended = true;
        this.#taps.delete(session);
        if (!res.destroyed) { res.write(`${JSON.stringify({ end: reason })}\n`); res.end(); }
        // a cut-off consumer that does not read its end line either: drop the socket
        if (reason.startsWith('MESH_ERR_TAP_SLOW')) setTimeout(() => sock?.destroy(), 1000).unref();
      });
    this.#taps.add(session);
    res.write(`${JSON.stringify({ tap: session.id, target, agents: this.insight.tapAgents() })}\n`);
    res.on('close', () => { if (!ended) session.close('client closed'); });
  }

  async listenTcp(port: number, host = '0.0.0.0'): Promise<number> {
    const s = http.createServer((req, res) => void this.#handle(req, res, false));
    this.#servers.push(s);
    await new Promise<void>((resolve, reject) => { s.once('error', (e) => reject(new MeshError('MESH_ERR_LISTEN', `the UI cannot listen on ${host}:${port}: ${e.message}; pass --ui-port`))); s.listen(port, host, resolve); });
    return (s.address() as { port: number }).port;
  }

  async listenUnix(file: string): Promise<void> {
    if (existsSync(file)) unlinkSync(file);
    const s = http.createServer((req, res) => void this.#handle(req, res, true));
    this.#servers.push(s);
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(file, resolve); });
  }

  async close(): Promise<void> {
    for (const t of [...this.#taps]) t.close('the controller is stopping');
    await Promise.all(this.#servers.map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
  }
}
