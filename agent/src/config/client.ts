// Controller mode: one gRPC stream to the controller (15012). Hello with node and token, then
// every update is converted at the wire boundary, applied atomically and answered with ACK, or
// NACK with the reason (nothing changes). Reconnects with jittered backoff; the last good config
// is kept on disk so an agent restarted while the controller is away still captures and routes.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigServiceClient, fromWire, grpc } from '../../../controller/src/grpc/index.js';
import type { ConfigResource, ConfigUpdate, NodeConfig } from '../../../controller/src/views/index.js';
import { MESH_KEY } from '../../../controller/src/views/index.js';
import type { ApplyFn, ConfigFeed, FeedStatus } from './feed.js';
import type { Logger } from '../telemetry/index.js';

export interface ControllerFeedOptions {
  readonly address: string;
  readonly node: string;
  readonly token: string;
  /** directory for the last good config (config.json) */
  readonly stateDir: string;
  /** the config the agent runs now, for persisting after an ACK */
  readonly current: () => NodeConfig;
  readonly log: Logger;
  readonly backoffMs?: { readonly min: number; readonly max: number };
}

type Call = grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;

export class ControllerFeed implements ConfigFeed {
  readonly #o: ControllerFeedOptions;
  readonly #client: grpc.Client & { stream(): Call };
  #call: Call | undefined;
  #apply: ApplyFn | undefined;
  #connected = false;
  #version = 0;
  #lastError: string | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #stats = { connects: 0, updates: 0, acks: 0, nacks: 0, fromCache: false, cacheWrites: 0 };
  /** pending cache write: a burst of ACKs costs one write of the whole config (bench/scale) */
  #saveTimer: NodeJS.Timeout | undefined;

  constructor(o: ControllerFeedOptions) {
    this.#o = o;
    this.#client = new ConfigServiceClient(o.address, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    }) as unknown as grpc.Client & { stream(): Call };
  }

  get #cacheFile(): string {
    return path.join(this.#o.stateDir, 'config.json');
  }

  async start(apply: ApplyFn): Promise<void> {
    this.#apply = apply;
    this.#loadCache();
    this.#connect();
  }

  /** Applies the config saved by a previous run, so capture works before the controller answers. */
  #loadCache(): void {
    let text: string;
    try { text = readFileSync(this.#cacheFile, 'utf8'); } catch { return; }
    try {
      const saved = JSON.parse(text) as { version: number; resources: ConfigResource[] };
      this.#apply!({ version: saved.version, full: true, upserts: saved.resources, removes: [] });
      this.#version = saved.version;
      this.#stats.fromCache = true;
      this.#o.log.info({ version: saved.version, file: this.#cacheFile }, 'running on the last good config from disk until the controller answers');
    } catch (e) {
      this.#o.log.warn({ code: 'MESH_ERR_CONFIG' }, `ignoring unreadable config cache ${this.#cacheFile}: ${(e as Error).message}`);
    }
  }

  #saveCache(cfg: NodeConfig): void {
    const resources: ConfigResource[] = [
      ...[...cfg.workloads].map(([key, value]) => ({ type: 'workload' as const, key, value })),
      ...[...cfg.peers].map(([key, value]) => ({ type: 'peer' as const, key, value })),
      ...[...cfg.services].map(([key, value]) => ({ type: 'service' as const, key, value })),
      ...[...cfg.routes].map(([key, value]) => ({ type: 'route' as const, key, value })),
      ...[...cfg.policies].map(([key, value]) => ({ type: 'policy' as const, key, value })),
      ...(cfg.mesh ? [{ type: 'mesh' as const, key: MESH_KEY, value: cfg.mesh }] : []),
    ];
    try {
      mkdirSync(this.#o.stateDir, { recursive: true });
      const tmp = `${this.#cacheFile}.tmp`;
      writeFileSync(tmp, JSON.stringify({ version: cfg.version, resources }));
      renameSync(tmp, this.#cacheFile);
    } catch (e) {
      this.#o.log.warn({ code: 'MESH_ERR_CONFIG' }, `cannot save the config cache: ${(e as Error).message}`);
    }
  }

  #connect(): void {
    if (this.#closed) return;
    const call = this.#client.stream();
    this.#call = call;
    this.#stats.connects++;
    call.write({ hello: { node: this.#o.node, token: this.#o.token, lastVersion: this.#version, agentVersion: '0.1.0' } });
    call.on('data', (m: Record<string, unknown>) => this.#onUpdate(call, m));
    const retry = (why: string): void => {
      if (this.#call !== call) return;
      this.#call = undefined;
      if (this.#connected) this.#o.log.warn({ reason: why }, 'controller stream lost; serving the last good config');
      this.#connected = false;
      this.#lastError = why;
      this.#schedule();
    };
    call.on('error', (e: Error & { details?: string }) => retry(e.details ?? e.message));
    call.on('end', () => retry('stream ended by the controller'));
  }

  #schedule(): void {
    if (this.#closed) return;
    const { min, max } = this.#o.backoffMs ?? { min: 200, max: 10_000 };
    const base = Math.min(max, min * 2 ** Math.min(this.#attempt++, 16));
    const delay = base / 2 + Math.random() * (base / 2);
    this.#timer = setTimeout(() => this.#connect(), delay);
    this.#timer.unref();
  }

  #onUpdate(call: Call, m: Record<string, unknown>): void {
    let u: ConfigUpdate | undefined;
    try {
      u = fromWire(m);
      this.#apply!(u);
    } catch (e) {
      const reason = `${(e as { code?: string }).code ?? 'MESH_ERR_CONFIG'}: ${(e as Error).message}`;
      this.#stats.nacks++;
      this.#lastError = reason;
      this.#o.log.warn({ version: u?.version ?? m.version }, `config rejected (NACK), previous one stays: ${reason}`);
      call.write({ nack: { version: Number(m.version ?? 0), reason } });
      return;
    }
    this.#stats.updates++;
    this.#stats.acks++;
    this.#version = u.version;
    this.#connected = true;
    this.#attempt = 0;
    this.#lastError = undefined;
    call.write({ ack: { version: u.version } });
    this.#scheduleSave();
  }

  /** Writes the cache at most every 200 ms; close() flushes a pending write. */
  #scheduleSave(): void {
    if (this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => this.#flushSave(), 200);
    this.#saveTimer.unref();
  }

  #flushSave(): void {
    if (!this.#saveTimer) return;
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    this.#stats.cacheWrites++;
    this.#saveCache(this.#o.current());
  }

  status(): FeedStatus {
    return { mode: 'controller', connected: this.#connected, version: this.#version, ...(this.#lastError ? { lastError: this.#lastError } : {}), detail: { address: this.#o.address, ...this.#stats } };
  }

  close(): void {
    this.#flushSave();
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#call?.cancel();
    this.#call = undefined;
    this.#client.close();
  }
}
