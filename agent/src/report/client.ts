// The agent's report stream to the controller (TelemetryService.Report on 15012, authenticated
// like the config stream): a Snapshot every few seconds, and while the controller has taps open
// on this node, the matching finished-request records in batches (drained from the native queue
// every 200 ms). Nothing here is on a request's path; a stream that cannot keep up drops batches.

import { TelemetryServiceClient, grpc } from '../../../controller/src/grpc/index.js';
import type { NodeView } from '../state/index.js';
import type { Logger } from '../telemetry/index.js';
import type { SnapshotWire } from './snapshot.js';
import { tapMatches, toTapEvent, type TapEventWire, type TapFilter } from './tap.js';

export interface ReportSources {
  snapshot(): Promise<SnapshotWire>;
  view(): NodeView;
  setTap(on: boolean, maxPerSecond: number): void;
  takeTap(): { lines: Record<string, unknown>[]; dropped: number };
}

export interface ReportClientOptions {
  readonly address: string;
  readonly node: string;
  readonly token: string;
  readonly log: Logger;
  readonly sources: ReportSources;
  readonly intervalMs?: number;
}

type Call = grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;

/** Per-tap records a second when the tap asks for none (the CLI's default is 100). */
const DEFAULT_TAP_RATE = 100;
const TAP_DRAIN_MS = 200;

export class ReportClient {
  readonly #o: ReportClientOptions;
  readonly #client: grpc.Client & { report(): Call };
  #call: Call | undefined;
  #taps = new Map<string, TapFilter & { second: number; inSecond: number }>();
  #interval: NodeJS.Timeout | undefined;
  #drain: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #nudge: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closed = false;
  #blocked = false;
  #stats = { connects: 0, snapshots: 0, tapEvents: 0, tapBatchesDropped: 0 };

  constructor(o: ReportClientOptions) {
    this.#o = o;
    this.#client = new TelemetryServiceClient(o.address, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000,
    }) as unknown as grpc.Client & { report(): Call };
  }

  start(): void {
    this.#connect();
    this.#interval = setInterval(() => { void this.#sendSnapshot(); }, this.#o.intervalMs ?? 5000);
    this.#interval.unref();
  }

  /** A snapshot soon (after a config change: pods and versions moved), at most one per 200 ms. */
  nudge(): void {
    if (this.#nudge || this.#closed) return;
    this.#nudge = setTimeout(() => { this.#nudge = undefined; void this.#sendSnapshot(); }, 200);
    this.#nudge.unref();
  }

  status(): Record<string, unknown> {
    return { connected: this.#call !== undefined, taps: this.#taps.size, ...this.#stats };
  }

  #connect(): void {
    if (this.#closed) return;
    const call = this.#client.report();
    this.#call = call;
    this.#blocked = false;
    this.#stats.connects++;
    call.write({ hello: { node: this.#o.node, token: this.#o.token } });
    call.on('data', (m: Record<string, unknown>) => this.#onCommand(m));
    call.on('drain', () => { this.#blocked = false; });
    const lost = (): void => {
      if (this.#call !== call) return;
      this.#call = undefined;
      this.#stopAllTaps();
      if (this.#closed) return;
      const base = Math.min(10_000, 200 * 2 ** Math.min(this.#attempt++, 10));
      this.#retry = setTimeout(() => this.#connect(), base / 2 + Math.random() * (base / 2));
      this.#retry.unref();
    };
    call.on('error', lost);
    call.on('end', lost);
    void this.#sendSnapshot();
  }

  async #sendSnapshot(): Promise<void> {
    const call = this.#call;
    if (!call || this.#blocked) return;
    let snap: SnapshotWire;
    try { snap = await this.#o.sources.snapshot(); } catch (e) {
      this.#o.log.warn({ code: 'MESH_ERR_INTERNAL' }, `report snapshot failed: ${(e as Error).message}`);
      return;
    }
    if (this.#call !== call) return;
    this.#attempt = 0;
    this.#stats.snapshots++;
    if (!call.write({ snapshot: snap })) this.#blocked = true;
  }

  #onCommand(m: Record<string, unknown>): void {
    if (m.kind === 'tapStart') {
      const t = m.tapStart as { tapId: string; workload?: { namespace: string; workload: string }; method: string; pathPrefix: string; maxPerSecond: number };
      if (!t.tapId || !t.workload?.namespace) return;
      this.#taps.set(t.tapId, {
        id: t.tapId, namespace: t.workload.namespace, workload: t.workload.workload, method: t.method, pathPrefix: t.pathPrefix,
        maxPerSecond: t.maxPerSecond > 0 ? t.maxPerSecond : DEFAULT_TAP_RATE, second: 0, inSecond: 0,
      });
    } else if (m.kind === 'tapStop') {
      this.#taps.delete((m.tapStop as { tapId: string }).tapId);
    }
    this.#retap();
  }

  /** The native tap is on while any tap is open, capped at the sum of their rates. */
  #retap(): void {
    if (this.#taps.size === 0) {
      if (this.#drain) { clearInterval(this.#drain); this.#drain = undefined; }
      this.#o.sources.setTap(false, 0);
      return;
    }
    const cap = Math.min(100_000, [...this.#taps.values()].reduce((s, t) => s + t.maxPerSecond, 0));
    this.#o.sources.setTap(true, cap);
    if (!this.#drain) {
      this.#drain = setInterval(() => this.#drainTap(), TAP_DRAIN_MS);
      this.#drain.unref();
    }
  }

  #stopAllTaps(): void {
    if (this.#taps.size === 0) return;
    this.#taps.clear();
    this.#retap();
  }

  #drainTap(): void {
    let b: { lines: Record<string, unknown>[]; dropped: number };
    try { b = this.#o.sources.takeTap(); } catch { return; }
    if (b.lines.length === 0) return;
    const view = this.#o.sources.view();
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    const events: TapEventWire[] = [];
    for (const rec of b.lines) {
      const e = toTapEvent(view, rec, now);
      for (const t of this.#taps.values()) {
        if (!tapMatches(t, e)) continue;
        if (t.second !== sec) { t.second = sec; t.inSecond = 0; }
        if (t.inSecond >= t.maxPerSecond) continue;
        t.inSecond++;
        events.push({ ...e, tapId: t.id });
      }
    }
    const call = this.#call;
    if (!call || events.length === 0) return;
    if (this.#blocked) { this.#stats.tapBatchesDropped++; return; }
    this.#stats.tapEvents += events.length;
    if (!call.write({ tap: { events, dropped: b.dropped } })) this.#blocked = true;
  }

  close(): void {
    this.#closed = true;
    if (this.#interval) clearInterval(this.#interval);
    if (this.#drain) clearInterval(this.#drain);
    if (this.#retry) clearTimeout(this.#retry);
    if (this.#nudge) clearTimeout(this.#nudge);
    this.#call?.cancel();
    this.#call = undefined;
    try { this.#o.sources.setTap(false, 0); } catch { /* proxy closed */ }
    this.#client.close();
  }
}
