// A fault-injecting fake of the Kubernetes list/watch protocol, on 127.0.0.1:0, for what a real API
// server will not do on demand: cut a watch mid-event, answer 410 Gone (HTTP or ERROR event), 500s,
// garbage lines, 403s, pauses. Objects live in memory under one monotonically increasing resourceVersion.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';

export interface FakeType { readonly group: string; readonly version: string; readonly kind: string; readonly plural: string; readonly namespaced: boolean }
type Obj = Record<string, unknown> & { metadata: Record<string, unknown> };
interface Event { readonly rv: number; readonly plural: string; readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: Obj }
interface Watcher { readonly plural: string; readonly res: http.ServerResponse; readonly bookmarks: boolean; paused: boolean; timer?: NodeJS.Timeout }
export interface FakeRequest { readonly at: number; readonly plural: string; readonly watch: boolean; readonly query: URLSearchParams; status: number }
interface Fault { n: number; readonly status: number; readonly plural?: string; readonly watchOnly: boolean }

const apiVersion = (t: FakeType): string => (t.group ? `${t.group}/${t.version}` : t.version);
const pathOf = (t: FakeType): string => (t.group ? `/apis/${t.group}/${t.version}/${t.plural}` : `/api/${t.version}/${t.plural}`);
const status = (code: number, reason: string, message: string): Obj => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code });

export class FakeApiServer {
  readonly server: http.Server;
  url = '';
  /** every list and watch request, oldest first */
  readonly requests: FakeRequest[] = [];
  /** 'http': a too-old resourceVersion gets HTTP 410; 'event': HTTP 200 then an ERROR event (code 410) */
  goneAs: 'http' | 'event' = 'event';
  /** the oldest resourceVersion a watch may start from (compact() raises it) */
  minRV = 0;
  #rv = 100;
  #types = new Map<string, FakeType>();
  #objects = new Map<string, Obj>();
  #history: Event[] = [];
  #watchers = new Set<Watcher>();
  #held: Array<() => void> = [];
  #faults: Fault[] = [];
  #forbidden = new Set<string>();
  #cutNext = new Set<string>();
  #paused = false;
  #token: string | undefined;

  constructor(types: readonly FakeType[], token?: string) {
    for (const t of types) this.addType(t);
    this.#token = token;
    this.server = http.createServer((req, res) => this.#handle(req, res));
  }

  get resourceVersion(): number { return this.#rv; }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Serves one more type (e.g. a CRD installed later); until then its path answers 404. */
  addType(t: FakeType): void { this.#types.set(pathOf(t), t); }

  /** Writes a kubeconfig for this server (plain http, so insecure-skip-tls-verify is set). */
  writeKubeconfig(file: string, token = this.#token ?? 'fake-token'): string {
    writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true\nusers:\n- name: fake\n  user:\n    token: ${token}\ncontexts:\n- name: fake\n  context: { cluster: fake, user: fake }\ncurrent-context: fake\n`);
    return file;
  }

  // ---- objects ----

  #type(o: Obj): FakeType {
    for (const t of this.#types.values()) if (apiVersion(t) === o.apiVersion && t.kind === o.kind) return t;
    throw new Error(`fake apiserver: no type for ${String(o.apiVersion)}/${String(o.kind)}`);
  }
  #key(t: FakeType, ns: string | undefined, name: string): string { return `${t.plural}/${t.namespaced ? ns ?? 'default' : ''}/${name}`; }

  /** Creates or replaces an object (ADDED or MODIFIED); returns it with its new resourceVersion. */
  apply(input: Record<string, unknown>): Obj {
    const o = structuredClone(input) as Obj;
    const t = this.#type(o);
    const key = this.#key(t, o.metadata.namespace as string | undefined, String(o.metadata.name));
    const old = this.#objects.get(key);
    o.metadata.resourceVersion = String(++this.#rv);
    o.metadata.uid ??= old?.metadata.uid ?? `uid-${this.#rv}`;
    if (t.namespaced) o.metadata.namespace ??= 'default';
    this.#objects.set(key, o);
    this.#emit({ rv: this.#rv, plural: t.plural, type: old ? 'MODIFIED' : 'ADDED', object: o });
    return o;
  }

  delete(apiVer: string, kind: string, namespace: string | undefined, name: string): void {
    const t = this.#type({ apiVersion: apiVer, kind, metadata: {} });
    const key = this.#key(t, namespace, name);
    const old = this.#objects.get(key);
    if (!old) throw new Error(`fake apiserver: ${key} does not exist`);
    this.#objects.delete(key);
    const o = structuredClone(old);
    o.metadata.resourceVersion = String(++this.#rv);
    this.#emit({ rv: this.#rv, plural: t.plural, type: 'DELETED', object: o });
  }

  /** Advances the resourceVersion without touching any object of the given types (other writes). */
  bump(n = 1): void { this.#rv += n; }

  // ---- faults ----

  /** The next n list or watch requests (of one plural, or any) answer this HTTP status. */
  failNext(n: number, code = 500, plural?: string, watchOnly = false): void { this.#faults.push({ n, status: code, ...(plural ? { plural } : {}), watchOnly }); }
  forbid(plural: string, on = true): void { if (on) this.#forbidden.add(plural); else this.#forbidden.delete(plural); }
  /** Every resourceVersion before the current one becomes too old (410 Gone) for a watch. */
  compact(): void { this.minRV = this.#rv; this.#history = []; }
  /** The next event sent to a watch of plural is written half, then the socket is destroyed. */
  cutNextEvent(plural: string): void { this.#cutNext.add(plural); }
  sendGarbage(plural: string, line = 'this is {not json'): void { for (const w of this.#open(plural)) w.res.write(`${line}\n`); }
  /** Sends a BOOKMARK at the current resourceVersion to the watches of plural that asked for them. */
  bookmark(plural: string): void {
    for (const w of this.#open(plural)) {
      if (w.bookmarks) this.#send(w, { type: 'BOOKMARK', object: { kind: this.#kindOf(plural), apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) } } });
    }
  }
  /** Open watches get an ERROR event with code 410, then their stream ends (as when the watch cache expires). */
  expireWatches(plural?: string): void {
    for (const w of this.#open(plural)) { this.#send(w, { type: 'ERROR', object: status(410, 'Expired', 'too old resource version') }); this.#end(w); }
  }
  /** Ends open watches cleanly (as at their timeout). */
  endWatches(plural?: string): void { for (const w of this.#open(plural)) this.#end(w); }
  /** A partition: open watches receive nothing, new watch requests get no answer, until resumeWatches(). */
  pauseWatches(): void { this.#paused = true; for (const w of this.#watchers) w.paused = true; }
  /** Heals the partition: paused streams are reset, held watch requests are answered now. */
  resumeWatches(): void {
    this.#paused = false;
    for (const w of [...this.#watchers]) if (w.paused) { this.#watchers.delete(w); w.res.socket?.destroy(); }
    for (const go of this.#held.splice(0)) go();
  }
  openWatches(plural?: string): number { return this.#open(plural).length; }
  watchRequests(plural: string): FakeRequest[] { return this.requests.filter((r) => r.plural === plural && r.watch); }

  async close(): Promise<void> {
    for (const w of this.#watchers) clearTimeout(w.timer);
    this.#watchers.clear();
    this.#held = [];
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #kindOf(plural: string): string { return [...this.#types.values()].find((t) => t.plural === plural)?.kind ?? 'Unknown'; }
  #open(plural?: string): Watcher[] { return [...this.#watchers].filter((w) => plural === undefined || w.plural === plural); }

  #emit(ev: Event): void {
    this.#history.push(ev);
    for (const w of this.#open(ev.plural)) if (!w.paused) this.#deliver(w, ev);
  }

  #deliver(w: Watcher, ev: Event): void {
    const line = JSON.stringify({ type: ev.type, object: ev.object });
    if (this.#cutNext.delete(w.plural)) {
      this.#watchers.delete(w);
      clearTimeout(w.timer);
      w.res.write(line.slice(0, Math.floor(line.length / 2)), () => w.res.socket?.destroy());
      return;
    }
    w.res.write(`${line}\n`);
  }

  #send(w: Watcher, ev: unknown): void { w.res.write(`${JSON.stringify(ev)}\n`); }
  #end(w: Watcher): void { this.#watchers.delete(w); clearTimeout(w.timer); w.res.end(); }

  // ---- HTTP ----

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const t = this.#types.get(url.pathname);
    const watch = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
    const rec: FakeRequest = { at: Date.now(), plural: t?.plural ?? url.pathname, watch, query: url.searchParams, status: 200 };
    this.requests.push(rec);
    const reply = (code: number, body: unknown): void => {
      rec.status = code;
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (this.#token !== undefined && req.headers.authorization !== `Bearer ${this.#token}`) return reply(401, status(401, 'Unauthorized', 'Unauthorized'));
    if (!t) return reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (this.#forbidden.has(t.plural)) {
      return reply(403, status(403, 'Forbidden', `${t.plural}${t.group ? `.${t.group}` : ''} is forbidden: User "fake" cannot ${watch ? 'watch' : 'list'} resource "${t.plural}" in API group "${t.group}" at the cluster scope`));
    }
    const fault = this.#faults.find((f) => f.n > 0 && (f.plural === undefined || f.plural === t.plural) && (!f.watchOnly || watch));
    if (fault) {
      fault.n--;
      return reply(fault.status, status(fault.status, 'InternalError', `injected HTTP ${fault.status}`));
    }
    if (!watch) return this.#list(t, url.searchParams, reply);
    const go = (): void => this.#watch(t, url.searchParams, res, rec, reply);
    if (this.#paused) this.#held.push(go); else go();
  }

  #list(t: FakeType, q: URLSearchParams, reply: (code: number, body: unknown) => void): void {
    const all = [...this.#objects.entries()].filter(([k]) => k.startsWith(`${t.plural}/`)).sort(([a], [b]) => a.localeCompare(b)).map(([, o]) => o);
    const limit = Number(q.get('limit') ?? '0');
    const start = Number(q.get('continue') ?? '0');
    const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
    const more = limit > 0 && start + limit < all.length;
    // like the real server, items of built-in kinds carry no apiVersion/kind; custom resources do
    const builtin = t.group === '' || t.group.endsWith('.k8s.io');
    const items = page.map((o) => { const c = structuredClone(o); if (builtin) { delete c.apiVersion; delete c.kind; } return c; });
    reply(200, { kind: `${t.kind}List`, apiVersion: apiVersion(t), metadata: { resourceVersion: String(this.#rv), ...(more ? { continue: String(start + limit) } : {}) }, items });
  }

  #watch(t: FakeType, q: URLSearchParams, res: http.ServerResponse, rec: FakeRequest, reply: (code: number, body: unknown) => void): void {
    if (res.destroyed) return;
    const from = Number(q.get('resourceVersion') ?? '0');
    if (from < this.minRV) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.minRV})`);
      if (this.goneAs === 'http') return reply(410, gone);
      rec.status = 200;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { plural: t.plural, res, bookmarks: q.get('allowWatchBookmarks') === 'true', paused: false };
    this.#watchers.add(w);
    res.on('close', () => { this.#watchers.delete(w); clearTimeout(w.timer); });
    const timeout = Number(q.get('timeoutSeconds') ?? '0');
    if (timeout > 0) w.timer = setTimeout(() => this.#end(w), timeout * 1000);
    for (const ev of this.#history) if (ev.plural === t.plural && ev.rv > from && this.#watchers.has(w)) this.#deliver(w, ev);
  }
}

/** The built-in types plus Gateway API routes, as served by a cluster with the Gateway API installed. */
export const FAKE_BUILTIN_TYPES: readonly FakeType[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute', plural: 'httproutes', namespaced: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'GRPCRoute', plural: 'grpcroutes', namespaced: true },
];

export async function startFakeApiServer(types: readonly FakeType[] = FAKE_BUILTIN_TYPES, token?: string): Promise<FakeApiServer> {
  return new FakeApiServer(types, token).listen();
}
