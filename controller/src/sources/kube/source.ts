// KubeSource: the ClusterSource backed by a Kubernetes API server. One Reflector per served type
// (list + watch, relist on 410, backoff), one KubeStore (validation, last valid version kept), and
// snapshots coalesced so a burst of events yields one update. stats() feeds the controller's metrics.

import { EventEmitter } from 'node:events';
import { MeshError } from '../../../../common/errors.js';
import { setCrdDir } from '../../model/index.js';
import type { ClusterSource, SourceSnapshot } from '../source.js';
import { KubeClient, type KubeConnectOptions } from './client.js';
import { Reflector, type ReflectorSink, type ReflectorState } from './reflector.js';
import { KubeStore } from './store.js';
import { RouteStatusWriter, type StatusWriterOptions, type StatusWriterStats } from './status-writer.js';
import { routeStatuses, type RouteHead } from '../../routes/index.js';
import { resourceName, servedTypes, type KubeType } from './types.js';

export interface KubeSourceOptions extends KubeConnectOptions {
  /**
   * CRDs whose kinds are watched besides the built-in ones (default deploy/crds, or $NODEMESH_CRD_DIR).
   * When given, the model validates custom resources against the same directory (setCrdDir).
   */
  readonly crdDir?: string;
  /** the exact types to serve, instead of the built-in ones plus crdDir's */
  readonly types?: readonly KubeType[];
  /** changes within this window make one snapshot (default 20 ms) */
  readonly coalesceMs?: number;
  /** backoff after a failed list or watch: initial and ceiling (default 200 ms → 30 s) */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** how often a type whose API is absent (404) is looked for again (default 30 s) */
  readonly absentRetryMs?: number;
  /** server-side watch timeout in seconds (default random in 300–600, like client-go) */
  readonly watchTimeoutSeconds?: number;
  /** list page size (default 500) */
  readonly pageSize?: number;
  /** idle timeout of a list request (default 60 s) */
  readonly requestTimeoutMs?: number;
  /** start() gives up when some type has not listed by then (default 60 s; 0 waits forever) */
  readonly startTimeoutMs?: number;
  /** write route status (Accepted, ResolvedRefs) back to HTTPRoute/GRPCRoute objects (default on); false: never write */
  readonly routeStatus?: false | StatusWriterOptions;
}

export interface KubeTypeStats {
  readonly resource: string;
  readonly kind: string;
  readonly state: ReflectorState;
  readonly resourceVersion: string;
  readonly objects: number;
  readonly lastError?: { readonly code: string; readonly message: string };
}

export interface KubeSourceStats {
  /** watch events applied (ADDED, MODIFIED, DELETED) */
  readonly events: number;
  readonly bookmarks: number;
  /** successful lists, the initial ones included */
  readonly lists: number;
  /** lists after the first per type (410 Gone, an API that came back) */
  readonly relists: number;
  /** watch streams opened (a server-side timeout ends one and a new one resumes from its resourceVersion) */
  readonly watches: number;
  /** watches that failed and were resumed after a backoff (cut, malformed line, 5xx, error event) */
  readonly watchRestarts: number;
  /** object versions rejected by validation (each rejected version counts once) */
  readonly rejected: number;
  /** objects of a kind the model does not serve (a CRD directory that disagrees with the model's) */
  readonly ignored: number;
  /** errors reported (also emitted as 'error' when someone listens) */
  readonly errors: number;
  readonly snapshots: number;
  readonly types: readonly KubeTypeStats[];
  /** the route status write-back (absent when disabled) */
  readonly routeStatus?: StatusWriterStats;
}

type Counter = 'events' | 'bookmarks' | 'lists' | 'relists' | 'watches' | 'watchRestarts';

/** Watches a Kubernetes API server. 'update' fires with each new snapshot after start(). */
export class KubeSource extends EventEmitter implements ClusterSource {
  readonly kind = 'kubernetes' as const;
  readonly types: readonly KubeType[];
  readonly #o: KubeSourceOptions;
  readonly #store: KubeStore;
  #reflectors: Reflector[] = [];
  #snapshot: SourceSnapshot | undefined;
  #snapshotVersion = -1;
  #statusWriter: RouteStatusWriter | undefined;
  /** store versions (content, routes) the route status was last computed for */
  #statusAt = '';
  #timer: NodeJS.Timeout | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #started = false;
  #abortStart: ((e: MeshError) => void) | undefined;
  #counters: Record<Counter | 'errors' | 'snapshots', number> = { events: 0, bookmarks: 0, lists: 0, relists: 0, watches: 0, watchRestarts: 0, errors: 0, snapshots: 0 };

  constructor(options: KubeSourceOptions = {}) {
    super();
    this.#o = options;
    if (options.crdDir !== undefined) setCrdDir(options.crdDir);
    this.types = options.types ?? servedTypes(options.crdDir);
    this.#store = new KubeStore(this.types);
  }

  get snapshot(): SourceSnapshot | undefined {
    return this.#snapshot;
  }

  /**
   * Lists every type, then watches. Resolves with the first snapshot once every type has listed
   * (a type whose API is absent counts as listed, empty). Rejects with MESH_ERR_KUBE_FORBIDDEN /
   * MESH_ERR_KUBE_UNAUTHORIZED when a type may not be listed, MESH_ERR_KUBE_CONFIG without a
   * usable configuration, MESH_ERR_KUBE_API when the start timeout passes; it then closes itself.
   */
  async start(): Promise<SourceSnapshot> {
    if (this.#started) throw new MeshError('MESH_ERR_INVALID_ARG', 'KubeSource.start() was already called');
    this.#started = true;
    const client = new KubeClient(this.#o);
    const timeout = this.#o.watchTimeoutSeconds;
    if (this.#o.routeStatus !== false) {
      this.#statusWriter = new RouteStatusWriter(client, this.types, () => this.#store.routes(), (e) => this.#report(undefined, e), this.#o.routeStatus ?? {});
    }
    const sink: ReflectorSink = {
      replace: (t, items) => { this.#store.replace(t, items); this.#changed(); },
      apply: (t, type, object) => {
        if (type === 'DELETED') this.#store.remove(t, object); else this.#store.upsert(t, object);
        this.#changed();
      },
      report: (t, e) => this.#report(t, e),
      count: (what) => { this.#counters[what]++; },
    };
    this.#reflectors = this.types.map((t) => new Reflector(t, client, sink, {
      backoffInitialMs: this.#o.backoffInitialMs ?? 200,
      backoffMaxMs: this.#o.backoffMaxMs ?? 30_000,
      absentRetryMs: this.#o.absentRetryMs ?? 30_000,
      watchTimeoutSeconds: () => timeout ?? 300 + Math.floor(Math.random() * 300),
      pageSize: this.#o.pageSize ?? 500,
      requestTimeoutMs: this.#o.requestTimeoutMs ?? 60_000,
    }));
    for (const r of this.#reflectors) r.start();
    const limit = this.#o.startTimeoutMs ?? 60_000;
    const timedOut = new Promise<never>((_, reject) => {
      if (limit > 0) {
        this.#startTimer = setTimeout(() => {
          const pending = this.#reflectors.filter((r) => !r.isSynced).map((r) => `${resourceName(r.type)}${r.lastError ? ` (${r.lastError.message})` : ''}`);
          reject(new MeshError('MESH_ERR_KUBE_API', `the Kubernetes API server did not list ${pending.join(', ')} within ${limit} ms`));
        }, limit);
      }
    });
    const closed = new Promise<never>((_, reject) => { this.#abortStart = reject; });
    for (const p of [timedOut, closed]) p.catch(() => undefined);
    try {
      await Promise.race([Promise.all(this.#reflectors.map((r) => r.synced)), timedOut, closed]);
    } catch (e) {
      this.close();
      throw e;
    } finally {
      clearTimeout(this.#startTimer);
      this.#abortStart = undefined;
    }
    const first = this.#publish(false)!;
    this.#writeRouteStatus();
    return first;
  }

  /** Stops every watch and timer; nothing of this source keeps the process alive afterwards. */
  close(): void {
    this.#closed = true;
    this.#statusWriter?.close();
    this.#abortStart?.(new MeshError('MESH_ERR_KUBE_API', 'the Kubernetes source was closed before its initial list finished'));
    for (const r of this.#reflectors) r.close();
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#timer = undefined;
  }

  stats(): KubeSourceStats {
    return {
      ...this.#counters,
      rejected: this.#store.rejected,
      ignored: this.#store.ignored,
      types: this.#reflectors.map((r) => ({
        resource: resourceName(r.type),
        kind: r.type.kind,
        state: r.state,
        resourceVersion: r.resourceVersion,
        objects: this.#store.objectCount(r.type),
        ...(r.lastError ? { lastError: { code: r.lastError.code, message: r.lastError.message } } : {}),
      })),
      ...(this.#statusWriter ? { routeStatus: this.#statusWriter.stats } : {}),
    };
  }

  #report(_t: KubeType | undefined, e: MeshError): void {
    this.#counters.errors++;
    // 'error' without a listener would throw: the error is still counted and shown by stats()
    if (!this.#closed && this.listenerCount('error') > 0) this.emit('error', e);
  }

  #changed(): void {
    if (!this.#snapshot || this.#closed || this.#timer) return; // before the first snapshot, start() publishes
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.#publish(true);
      this.#writeRouteStatus();
    }, this.#o.coalesceMs ?? 20);
  }

  /** What the API shows of every route (valid or not): generation and parentRefs of its latest version. */
  routeHeads(): Map<string, RouteHead> {
    return new Map([...this.#store.routes()].map(([k, o]) => [k, o.head]));
  }

  /** Recomputes every route's status when the cluster or a route object changed; the writer PATCHes what differs. */
  #writeRouteStatus(): void {
    const at = `${this.#store.version}/${this.#store.routeVersion}`;
    if (!this.#statusWriter || !this.#snapshot || at === this.#statusAt) return;
    this.#statusAt = at;
    this.#statusWriter.reconcile(routeStatuses(this.#snapshot.resources, this.#snapshot.problems, this.routeHeads()));
  }

  /** Builds a snapshot if the store changed since the last one; emits 'update' when asked. */
  #publish(emit: boolean): SourceSnapshot | undefined {
    if (this.#snapshot && this.#store.version === this.#snapshotVersion) return this.#snapshot;
    this.#snapshotVersion = this.#store.version;
    const { resources, problems } = this.#store.build();
    this.#snapshot = { resources, problems, generation: (this.#snapshot?.generation ?? 0) + 1 };
    this.#counters.snapshots++;
    if (emit) this.emit('update', this.#snapshot);
    return this.#snapshot;
  }
}
