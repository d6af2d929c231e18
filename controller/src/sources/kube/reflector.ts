// One resource type's list + watch loop: list (paged), then watch from the list's resourceVersion
// with bookmarks, resuming from the last resourceVersion seen (events and bookmarks advance it).
// 410 Gone (HTTP status or ERROR event) → full relist that replaces the type's objects; any other
// failure → exponential backoff with jitter, then resume; 404 → the API is absent, retried slowly.

import type { IncomingMessage } from 'node:http';
import { MeshError } from '../../../../common/errors.js';
import { KubeApiError, apiError, readBody, type KubeClient } from './client.js';
import { resourceName, type KubeType } from './types.js';

// Why our own list + watch over node:http rather than client-node's Watch or ListWatch (1.4):
// Watch swallows lines it cannot parse (nothing to count, report or restart on), reports a stream
// cut mid-event exactly like a clean server timeout (done(null)), and always ends its stream on
// errors without a status for us to tell 410 from 500; ListWatch stops for good on any error but
// 410 (no backoff, no retry), lists in one unpaged call and never asks for bookmarks. We keep
// client-node for what it is good at: KubeConfig (kubeconfig, in-cluster, exec/token auth, TLS).

export type ReflectorState = 'starting' | 'listing' | 'watching' | 'backoff' | 'absent' | 'forbidden' | 'closed';
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Where a reflector delivers what it reads (the source's store) and what it counts. */
export interface ReflectorSink {
  replace(t: KubeType, items: readonly unknown[]): void;
  apply(t: KubeType, type: WatchEventType, object: unknown): void;
  report(t: KubeType, e: MeshError): void;
  count(what: 'events' | 'bookmarks' | 'lists' | 'relists' | 'watches' | 'watchRestarts'): void;
}

export interface ReflectorOptions {
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly absentRetryMs: number;
  /** server-side watch timeout; a fresh watch from the same resourceVersion follows it */
  readonly watchTimeoutSeconds: () => number;
  readonly pageSize: number;
  readonly requestTimeoutMs: number;
}

/** Signals a 410 Gone: the resourceVersion is too old, only a relist recovers. */
class Gone extends Error {}

const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const rvOf = (o: unknown): string | undefined => {
  const m = isRec(o) && isRec(o.metadata) ? o.metadata.resourceVersion : undefined;
  return typeof m === 'string' && m !== '' ? m : undefined;
};

export class Reflector {
  state: ReflectorState = 'starting';
  resourceVersion = '';
  lastError: MeshError | undefined;
  /** resolves after the first successful list, or once the API is known to be absent */
  readonly synced: Promise<void>;
  #resolveSynced!: () => void;
  #rejectSynced!: (e: MeshError) => void;
  #isSynced = false;
  #attempt = 0;
  #closed = false;
  #abort = new AbortController();
  #lists = 0;

  constructor(readonly type: KubeType, private readonly client: KubeClient, private readonly sink: ReflectorSink, private readonly o: ReflectorOptions) {
    this.synced = new Promise((res, rej) => { this.#resolveSynced = res; this.#rejectSynced = rej; });
    this.synced.catch(() => undefined);
  }

  get isSynced(): boolean { return this.#isSynced; }

  start(): void {
    void this.#loop();
  }

  close(): void {
    this.#closed = true;
    this.state = 'closed';
    this.#abort.abort();
  }

  async #loop(): Promise<void> {
    let needList = true;
    while (!this.#closed) {
      try {
        if (needList) {
          await this.#list();
          needList = false;
        }
        needList = await this.#watch();
        if (needList) this.sink.report(this.type, new MeshError('MESH_ERR_KUBE_WATCH', `watch ${resourceName(this.type)}: resourceVersion ${this.resourceVersion} expired (410 Gone); relisting`));
      } catch (e) {
        if (this.#closed) break;
        const err = e instanceof Gone ? undefined : e instanceof MeshError ? e : new MeshError('MESH_ERR_KUBE_API', `${resourceName(this.type)}: ${(e as Error).message}`, { cause: e });
        if (!err) { needList = true; await this.#sleep(this.#nextDelay()); continue; } // a paged list's continue token expired: list again
        this.lastError = err;
        this.sink.report(this.type, err);
        if (err.code === 'MESH_ERR_KUBE_API_MISSING') {
          // the type vanished (or never existed): it has no objects, and is looked for again slowly
          if (this.#lists > 0 || this.#isSynced) this.sink.replace(this.type, []);
          this.state = 'absent';
          this.#markSynced();
          needList = true;
          await this.#sleep(this.o.absentRetryMs);
          continue;
        }
        if (err.code === 'MESH_ERR_KUBE_FORBIDDEN' || err.code === 'MESH_ERR_KUBE_UNAUTHORIZED' || err.code === 'MESH_ERR_KUBE_CONFIG') {
          this.state = 'forbidden';
          if (!this.#isSynced) this.#rejectSynced(err);
          await this.#sleep(this.o.backoffMaxMs);
          continue;
        }
        if (!needList) this.sink.count('watchRestarts');
        this.state = 'backoff';
        await this.#sleep(this.#nextDelay());
      }
    }
  }

  #markSynced(): void {
    if (this.#isSynced) return;
    this.#isSynced = true;
    this.#resolveSynced();
  }

  /** Full jitter over an exponential ceiling: uniform in [d/2, d], d = initial·2^attempt ≤ max. */
  #nextDelay(): number {
    const d = Math.min(this.o.backoffMaxMs, this.o.backoffInitialMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return d / 2 + Math.random() * (d / 2);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const signal = this.#abort.signal;
      const done = (): void => { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Lists every object of the type, page by page, then replaces the type's objects at once. */
  async #list(): Promise<void> {
    this.state = 'listing';
    const items: unknown[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const res = await this.client.open(this.type, { limit: String(this.o.pageSize), ...(cont ? { continue: cont } : {}) }, this.#abort.signal, this.o.requestTimeoutMs);
      const body = await readBody(res).catch((e: Error) => { throw new KubeApiError('MESH_ERR_KUBE_API', 0, `list ${resourceName(this.type)}: ${e.message}`, { cause: e }); });
      if (res.statusCode === 410) throw new Gone();
      if (res.statusCode !== 200) throw apiError(this.type, 'list', res.statusCode ?? 0, body);
      let list: unknown;
      try { list = JSON.parse(body); } catch { throw new KubeApiError('MESH_ERR_KUBE_API', 200, `list ${resourceName(this.type)}: the response is not JSON`); }
      if (!isRec(list) || !Array.isArray(list.items) || !isRec(list.metadata)) throw new KubeApiError('MESH_ERR_KUBE_API', 200, `list ${resourceName(this.type)}: the response is not a list`);
      items.push(...list.items);
      rv = typeof list.metadata.resourceVersion === 'string' ? list.metadata.resourceVersion : rv;
      cont = typeof list.metadata.continue === 'string' && list.metadata.continue !== '' ? list.metadata.continue : undefined;
    } while (cont);
    if (this.#closed) return;
    if (this.#lists++ > 0) this.sink.count('relists');
    this.sink.count('lists');
    this.resourceVersion = rv;
    this.sink.replace(this.type, items);
    this.#attempt = 0;
    this.lastError = undefined;
    this.#markSynced();
  }

  /**
   * Watches from this.resourceVersion until the stream ends. Resolves false after a clean end
   * (server timeout: watch again from the same point), true on 410 Gone (relist); rejects on
   * anything else, including a stream cut mid-line or a malformed line.
   */
  async #watch(): Promise<boolean> {
    const timeout = this.o.watchTimeoutSeconds();
    const query = { watch: '1', resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(timeout) };
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const started = Date.now();
      const res = await this.client.open(this.type, query, ac.signal, timeout * 1000 + 30_000);
      if (res.statusCode !== 200) {
        const body = await readBody(res, 1 << 20).catch(() => '');
        if (res.statusCode === 410) return true;
        throw apiError(this.type, 'watch', res.statusCode ?? 0, body);
      }
      this.state = 'watching';
      this.lastError = undefined;
      this.sink.count('watches');
      const events = await this.#stream(res, ac);
      if (events === 'gone') return true;
      // a stream that ends at once with nothing in it is a misbehaving server, not a timeout
      if (events === 0 && Date.now() - started < 1000) throw new KubeApiError('MESH_ERR_KUBE_WATCH', 200, `watch ${resourceName(this.type)}: the stream ended immediately`);
      return false;
    } finally {
      this.#abort.signal.removeEventListener('abort', onAbort);
      ac.abort();
    }
  }

  /** Reads newline-delimited watch events; resolves with the count at a clean end, or 'gone'. */
  #stream(res: IncomingMessage, ac: AbortController): Promise<number | 'gone'> {
    const where = `watch ${resourceName(this.type)} from resourceVersion ${this.resourceVersion}`;
    return new Promise((resolve, reject) => {
      let buf = '';
      let n = 0;
      let finished = false;
      const finish = (r: number | 'gone' | MeshError): void => {
        if (finished) return;
        finished = true;
        res.removeAllListeners('data');
        ac.abort();
        if (r instanceof MeshError) reject(r); else resolve(r);
      };
      const line = (text: string): void => {
        let ev: unknown;
        try { ev = JSON.parse(text); } catch { ev = undefined; }
        const type = isRec(ev) ? ev.type : undefined;
        const object = isRec(ev) ? ev.object : undefined;
        if (!isRec(object) || typeof type !== 'string') {
          finish(new KubeApiError('MESH_ERR_KUBE_WATCH', 200, `${where}: malformed event line ${JSON.stringify(text.slice(0, 120))}; resuming`));
          return;
        }
        if (type === 'ERROR') {
          if (object.code === 410) { finish('gone'); return; }
          finish(new KubeApiError('MESH_ERR_KUBE_WATCH', Number(object.code) || 0, `${where}: error event ${String(object.code)}: ${String(object.message ?? object.reason ?? '')}`));
          return;
        }
        const rv = rvOf(object);
        if (type === 'BOOKMARK') {
          if (rv) this.resourceVersion = rv;
          this.sink.count('bookmarks');
        } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          this.sink.apply(this.type, type, object);
          if (rv) this.resourceVersion = rv;
          this.sink.count('events');
        } else {
          finish(new KubeApiError('MESH_ERR_KUBE_WATCH', 200, `${where}: unknown event type ${JSON.stringify(type)}; resuming`));
          return;
        }
        n++;
        this.#attempt = 0;
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while (!finished && (i = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (text) line(text);
        }
      });
      res.on('end', () => {
        if (buf.trim()) finish(new KubeApiError('MESH_ERR_KUBE_WATCH', 200, `${where}: the stream ended mid-event; resuming`));
        else finish(n);
      });
      res.on('error', (e) => finish(new KubeApiError('MESH_ERR_KUBE_WATCH', 0, `${where}: the stream broke (${e.message}); resuming`, { cause: e })));
      res.on('close', () => finish(new KubeApiError('MESH_ERR_KUBE_WATCH', 0, `${where}: the connection closed mid-stream; resuming`)));
    });
  }
}
