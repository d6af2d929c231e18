// Public surface of the native addon: loads native/nodemesh.node, validates arguments before they
// cross (better-sqlite3's rule: JS validates, native executes) and rewraps native failures as
// MeshError with the same MESH_ERR_* code. Nothing here runs per connection or per byte.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import path from 'node:path';
import { MeshError, toMeshError } from '../common/errors.js';
import { repoRoot } from '../common/paths.js';
import type { RequestHead, RouteResult, TableHttp } from '../agent/src/routing/table.js';

export const ROOT = repoRoot();
export const ADDON_PATH = process.env.NODEMESH_ADDON ?? path.join(ROOT, 'native', 'nodemesh.node');
export const BPF_OBJECT_PATH = process.env.NODEMESH_BPF_OBJECT ?? path.join(ROOT, 'build', 'bpf', 'tc_steer.bpf.o');

// ---- raw binding (implemented in native/src/**/api.rs) ----

export interface RawAttachResult { ifindex: number; replaced: boolean }
export interface RawWorkloadEntry { ip: string; index: number; flags: number }

export interface RawDatapath {
  attach(ifname: string, netnsPath: string | null): RawAttachResult;
  detach(ifname: string): boolean;
  attachedInterfaces(): string[];
  setWorkload(ip: string, index: number, flags: number): void;
  deleteWorkload(ip: string): boolean;
  listWorkloads(): RawWorkloadEntry[];
  setLocalAddr(ip: string): void;
  deleteLocalAddr(ip: string): boolean;
  listLocalAddrs(): string[];
  counters(): number[];
  close(): void;
}

export interface RawProxyOptions {
  outboundPort: number;
  inboundPort: number;
  connectTimeoutMs: number;
  /** upper bound of relay buffer bytes per direction of one connection */
  maxBufferBytes: number;
  /** how often queued connection events are flushed to JavaScript */
  eventFlushMs: number;
  /** the HBONE listener (15008); 0: none */
  tunnelPort?: number;
  /** where other nodes' proxies accept HBONE (15008) */
  peerTunnelPort?: number;
}

export interface ConnEvent {
  kind: 'open' | 'close';
  id: number;
  direction: 'outbound' | 'inbound';
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /** bytes client → upstream (close events; 0 on open) */
  bytesUp: number;
  /** bytes upstream → client */
  bytesDown: number;
  durationUs: number;
  /** close reason, a stable code (docs/errors.md "close reasons"); '' on open */
  reason: string;
  /** 'namespace/name' when the original destination was a Service VIP:port (outbound), else ''
   *  (also set on a MESH_ERR_NO_ENDPOINTS close) */
  service: string;
  /** the endpoint actually connected: a Service's endpoint, else the original destination;
   *  '' when no upstream connect succeeded (denied, connect failed) */
  upstreamIp: string;
  /** port of `upstreamIp`; 0 when it is '' */
  upstreamPort: number;
  /** the client's SPIFFE identity ('' for plaintext from outside the mesh): its own pod's
   *  (outbound) or the verified peer certificate's (inbound over HBONE) */
  srcIdentity: string;
  /** the destination's SPIFFE identity ('' outside the mesh): verified by the TLS handshake
   *  outbound over HBONE, the local pod's inbound */
  dstIdentity: string;
  /** the bytes crossed the node link inside an mTLS (HBONE) tunnel */
  tls: boolean;
  /** the authorization policy that denied, allowed or audited ("namespace/name",
   *  "default:<policy>"), or '' */
  policy: string;
  /** the AUDIT policy that matched the connection ("namespace/name"), or '' */
  audit: string;
}

/** What `setCertificates` takes: the agent's IdentitySnapshot (keys never leave native memory). */
export interface CertSnapshot {
  trustDomain: string;
  bundle: readonly string[];
  identities: readonly { identity: string; chain: readonly string[]; key: string }[];
}

export interface HandshakeCount { side: string; result: string; count: number }

export interface RawVerdict {
  action: 'forward' | 'deny';
  reason: string;
  upstreamIp: string;
  upstreamPort: number;
  bindIp: string;
  /** 'namespace/name' when the destination is a Service VIP:port (outbound only), else ''.
   *  Forward: upstreamIp/upstreamPort stay the VIP (the endpoint is picked per connection);
   *  deny MESH_ERR_NO_ENDPOINTS: the service that has none */
  service: string;
  /** distinct candidate endpoints of that service (0 when not a service) */
  endpoints: number;
}

export interface RawProxyStats {
  active: number; accepted: number; denied: number; eventsDropped: number; tableVersion: number;
  /** HBONE pool: TLS connections opened to peers, live now, CONNECT streams opened */
  tunnelConnectionsOpened: number; tunnelConnectionsLive: number; tunnelStreamsOpened: number;
}

/** One route's counters (native/src/l7/route_stats.rs). */
export interface RouteStat {
  readonly route: string; readonly retries: number; readonly retryBudgetExhausted: number;
  readonly mirrorSent: number; readonly mirrorFailed: number; readonly mirrorSkipped: number;
}

/** Finished spans as one OTLP ExportTraceServiceRequest (native/src/l7/trace_otlp.rs) and the queue's totals. */
export interface SpanBatchRaw { readonly body: Buffer; readonly count: number; readonly dropped: number; readonly recorded: number; readonly queued: number }

export interface RawProxy {
  setTable(tableJson: string): number;
  evaluate(direction: 'outbound' | 'inbound', srcIp: string, srcPort: number, dstIp: string, dstPort: number): RawVerdict;
  stats(): RawProxyStats;
  setCertificates(snap: CertSnapshot): void;
  handshakes(): HandshakeCount[];
  /** golden metrics snapshot JSON (native/src/l7/metrics.rs) */
  goldenMetrics(): string;
  /** inbound HTTP authorization counts by policy, JSON `[{ policy, allow, deny }]` */
  httpAuthz(): string;
  /** retries and RequestMirror outcomes by route, JSON `[{ route, retries, retryBudgetExhausted, mirrorSent, mirrorFailed, mirrorSkipped }]` */
  routeStats(): string;
  /** JSON log lines queued by the proxy (request denials) since the last call; drops in total */
  takeLog(): { lines: string[]; dropped: number };
  /** up to `max` finished spans, OTLP-encoded under the resource attributes (JSON object) */
  takeSpans(max: number, resourceJson: string): SpanBatchRaw;
  setTap(on: boolean, maxPerSecond: number): void;
  takeTap(): { lines: string[]; dropped: number };
  close(): Promise<void>;
}

interface RawBinding {
  bpfOpen(objectPath: string, pinDir: string): RawDatapath;
  bpfCleanup(pinDir: string): number;
  proxyStart(opts: RawProxyOptions, onEvents: (err: Error | null, events: ConnEvent[]) => void): RawProxy;
  nativeVersion(): string;
  /** native route() of an HTTP table (TableHttp JSON) for a request head (RequestHead JSON): the RouteResult JSON */
  routeEvaluate(tableJson: string, dstIp: string, dstPort: number, headJson: string, u: number, clientNamespace?: string): string;
  /** test hook: span records (agent/src/tracing SpanRecord JSON) encoded by the proxy's OTLP encoder */
  otlpEncodeTest(spansJson: string, resourceJson: string): Buffer;
  /** test hook: panics inside a guarded call; must surface as MESH_ERR_NATIVE_PANIC */
  testPanic(): void;
}

let binding: RawBinding | undefined;
const REQUIRED_EXPORTS = ['bpfOpen', 'bpfCleanup', 'proxyStart', 'nativeVersion', 'testPanic'] as const;

/** Loads the addon once; a missing build is MESH_ERR_NOT_BUILT with the command that builds it. */
export function loadBinding(): RawBinding {
  if (binding) return binding;
  if (!existsSync(ADDON_PATH)) {
    throw new MeshError('MESH_ERR_NOT_BUILT', `native addon not found at ${ADDON_PATH}; run "npm run build"`);
  }
  const require = createRequire(import.meta.url);
  const b = require(ADDON_PATH) as Partial<RawBinding>;
  const missing = REQUIRED_EXPORTS.filter((f) => typeof b[f] !== 'function');
  if (missing.length) {
    throw new MeshError('MESH_ERR_NOT_BUILT', `native addon at ${ADDON_PATH} is out of date (missing ${missing.join(', ')}); run "npm run build"`);
  }
  binding = b as RawBinding;
  return binding;
}

function call<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw toMeshError(e, 'MESH_ERR_NATIVE_PANIC', what);
  }
}

function checkIp(ip: string, what: string): void {
  if (!isIPv4(ip)) throw new MeshError('MESH_ERR_INVALID_ARG', `${what}: "${ip}" is not an IPv4 address`);
}

function checkPort(p: number, what: string): void {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new MeshError('MESH_ERR_INVALID_ARG', `${what}: port ${p} is not in 1..65535`);
}

const IFNAME = /^[A-Za-z0-9_.@-]{1,15}$/;

/** The BPF steering datapath of one node: program, pinned TCX links, workload/local/counter maps. */
export class Datapath {
  readonly #raw: RawDatapath;
  private constructor(raw: RawDatapath) { this.#raw = raw; }

  /** Loads the object and opens (or reuses) the maps pinned under pinDir. */
  static open(pinDir: string, objectPath = BPF_OBJECT_PATH): Datapath {
    if (!existsSync(objectPath)) throw new MeshError('MESH_ERR_NOT_BUILT', `BPF object not found at ${objectPath}; run "npm run build"`);
    if (!pinDir.startsWith('/sys/fs/bpf/')) throw new MeshError('MESH_ERR_INVALID_ARG', `pin dir ${pinDir} must be under /sys/fs/bpf/`);
    const b = loadBinding();
    return new Datapath(call('load BPF datapath', () => b.bpfOpen(objectPath, pinDir)));
  }

  attach(ifname: string, netnsPath: string | null = null): RawAttachResult {
    if (!IFNAME.test(ifname)) throw new MeshError('MESH_ERR_INVALID_ARG', `interface name "${ifname}" is invalid`);
    return call(`attach to ${ifname}`, () => this.#raw.attach(ifname, netnsPath));
  }
  detach(ifname: string): boolean { return call(`detach from ${ifname}`, () => this.#raw.detach(ifname)); }
  attachedInterfaces(): string[] { return call('list links', () => this.#raw.attachedInterfaces()); }
  setWorkload(ip: string, index: number, flags: number): void {
    checkIp(ip, 'setWorkload');
    if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new MeshError('MESH_ERR_INVALID_ARG', `workload index ${index} is not a u32`);
    call(`enroll ${ip}`, () => this.#raw.setWorkload(ip, index, flags >>> 0));
  }
  deleteWorkload(ip: string): boolean { checkIp(ip, 'deleteWorkload'); return call(`unenroll ${ip}`, () => this.#raw.deleteWorkload(ip)); }
  listWorkloads(): RawWorkloadEntry[] { return call('list workloads', () => this.#raw.listWorkloads()); }
  setLocalAddr(ip: string): void { checkIp(ip, 'setLocalAddr'); call(`local addr ${ip}`, () => this.#raw.setLocalAddr(ip)); }
  deleteLocalAddr(ip: string): boolean { checkIp(ip, 'deleteLocalAddr'); return call(`local addr ${ip}`, () => this.#raw.deleteLocalAddr(ip)); }
  listLocalAddrs(): string[] { return call('list local addrs', () => this.#raw.listLocalAddrs()); }
  /** Per-CPU counters summed, indexed by enum mesh_counter (common/layout.ts COUNTER_NAMES). */
  counters(): number[] { return call('read counters', () => this.#raw.counters()); }
  close(): void { call('close datapath', () => this.#raw.close()); }
}

/** Removes every pin under pinDir (links detach when their last reference goes). Returns pins removed. */
export function cleanupPins(pinDir: string): number {
  if (!pinDir.startsWith('/sys/fs/bpf/')) throw new MeshError('MESH_ERR_INVALID_ARG', `pin dir ${pinDir} must be under /sys/fs/bpf/`);
  const b = loadBinding();
  return call(`clean up ${pinDir}`, () => b.bpfCleanup(pinDir));
}

export interface ProxyOptions {
  outboundPort?: number;
  inboundPort?: number;
  connectTimeoutMs?: number;
  maxBufferBytes?: number;
  eventFlushMs?: number;
  /** HBONE listener port; 0 (the default) runs none */
  tunnelPort?: number;
  peerTunnelPort?: number;
}

/** The node proxy: transparent listeners and the relay, running on native threads. */
export class NodeProxy {
  readonly #raw: RawProxy;
  private constructor(raw: RawProxy) { this.#raw = raw; }

  static start(opts: ProxyOptions, onEvents: (events: ConnEvent[]) => void): NodeProxy {
    const o: RawProxyOptions = {
      outboundPort: opts.outboundPort ?? 15001,
      inboundPort: opts.inboundPort ?? 15006,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      maxBufferBytes: opts.maxBufferBytes ?? 256 * 1024,
      eventFlushMs: opts.eventFlushMs ?? 20,
      tunnelPort: opts.tunnelPort ?? 0,
      peerTunnelPort: opts.peerTunnelPort ?? 15008,
    };
    if (o.tunnelPort !== 0) checkPort(o.tunnelPort ?? 0, 'tunnelPort');
    checkPort(o.peerTunnelPort ?? 0, 'peerTunnelPort');
    checkPort(o.outboundPort, 'outboundPort');
    checkPort(o.inboundPort, 'inboundPort');
    if (o.connectTimeoutMs < 1 || o.connectTimeoutMs > 600_000) throw new MeshError('MESH_ERR_INVALID_ARG', `connectTimeoutMs ${o.connectTimeoutMs} is not in 1..600000`);
    if (o.maxBufferBytes < 4096 || o.maxBufferBytes > 64 * 1024 * 1024) throw new MeshError('MESH_ERR_INVALID_ARG', `maxBufferBytes ${o.maxBufferBytes} is not in 4 KiB..64 MiB`);
    if (o.eventFlushMs < 1 || o.eventFlushMs > 10_000) throw new MeshError('MESH_ERR_INVALID_ARG', `eventFlushMs ${o.eventFlushMs} is not in 1..10000`);
    const b = loadBinding();
    const raw = call('start node proxy', () => b.proxyStart(o, (err, events) => { if (!err) onEvents(events); }));
    return new NodeProxy(raw);
  }

  /** Installs a compiled decision table (agent/src/decide compileTable); returns its version. */
  setTable(tableJson: string): number { return call('install decision table', () => this.#raw.setTable(tableJson)); }
  evaluate(direction: 'outbound' | 'inbound', srcIp: string, srcPort: number, dstIp: string, dstPort: number): RawVerdict {
    checkIp(srcIp, 'evaluate'); checkIp(dstIp, 'evaluate');
    return call('evaluate', () => this.#raw.evaluate(direction, srcIp, srcPort, dstIp, dstPort));
  }
  stats(): RawProxyStats { return call('proxy stats', () => this.#raw.stats()); }
  /** Swaps the workload certificates and the trust bundle atomically (rejected: old stays). */
  setCertificates(snap: CertSnapshot): void { call('install certificates', () => this.#raw.setCertificates(snap)); }
  handshakes(): HandshakeCount[] { return call('handshake counters', () => this.#raw.handshakes()); }
  /** The golden metrics snapshot (requests, responses, latency histograms per series) as JSON text:
   *  the shape of GoldenMetrics::snapshot (agent/src/telemetry/golden.ts GoldenSnapshot). */
  goldenMetrics(): string { return call('golden metrics', () => this.#raw.goldenMetrics()); }
  /** Inbound HTTP authorization counts by policy (HttpAuthzCounters::snapshot). */
  httpAuthz(): { policy: string; allow: number; deny: number }[] {
    return JSON.parse(call('http authz counters', () => this.#raw.httpAuthz())) as { policy: string; allow: number; deny: number }[];
  }
  /** Retries and RequestMirror outcomes by route (RouteStats::snapshot). */
  routeStats(): RouteStat[] {
    return JSON.parse(call('route stats', () => this.#raw.routeStats())) as RouteStat[];
  }
  /** The JSON log lines the proxy queued since the last call, parsed; `dropped` counts lines lost to a full queue. */
  takeLog(): { lines: Record<string, unknown>[]; dropped: number } {
    const b = call('proxy log', () => this.#raw.takeLog());
    return { lines: b.lines.map((l) => JSON.parse(l) as Record<string, unknown>), dropped: b.dropped };
  }
  /** Takes up to `max` finished spans (oldest first) as one OTLP ExportTraceServiceRequest with
   *  `resource` as its resource attributes; `dropped` counts spans lost to a full queue, in total. */
  takeSpans(max: number, resource: Readonly<Record<string, string>>): SpanBatchRaw {
    if (!Number.isInteger(max) || max < 1) throw new MeshError('MESH_ERR_INVALID_ARG', `takeSpans: max ${max} must be a positive integer`);
    return call('proxy spans', () => this.#raw.takeSpans(max, JSON.stringify(resource)));
  }
  /** Turns the live tap on (each finished HTTP request's metadata queued, at most `maxPerSecond`
   *  a second; 0 = no cap) or off. */
  setTap(on: boolean, maxPerSecond = 0): void {
    if (!Number.isInteger(maxPerSecond) || maxPerSecond < 0 || maxPerSecond > 1_000_000) throw new MeshError('MESH_ERR_CONFIG', `setTap: maxPerSecond must be an integer 0..1000000, got ${maxPerSecond}`);
    call('tap', () => this.#raw.setTap(on, maxPerSecond));
  }
  /** The tap records queued since the last call, parsed; `dropped` counts records lost in total. */
  takeTap(): { lines: Record<string, unknown>[]; dropped: number } {
    const b = call('tap', () => this.#raw.takeTap());
    return { lines: b.lines.map((l) => JSON.parse(l) as Record<string, unknown>), dropped: b.dropped };
  }
  async close(): Promise<void> {
    try { await this.#raw.close(); } catch (e) { throw toMeshError(e, 'MESH_ERR_NATIVE_PANIC', 'close node proxy'); }
  }
}

/** The proxy's own OTLP encoder (native/src/l7/trace_otlp.rs) on span records, for tests that
 *  decode its output (test/unit/tracing). */
export function otlpEncode(spans: readonly unknown[], resource: Readonly<Record<string, string>>): Buffer {
  const b = loadBinding();
  return call('otlpEncode', () => b.otlpEncodeTest(JSON.stringify(spans), JSON.stringify(resource)));
}

export function nativeVersion(): string { return call('version', () => loadBinding().nativeVersion()); }

/**
 * Native route() (native/src/l7/matching.rs): the RouteResult for `head` on the Service port
 * `dstIp:dstPort` of the HTTP table `table` (a TableHttp), with backend draw `u` in [0,1).
 * The same function the proxy runs per request, exported so tests compare it with route.ts.
 */
export function routeEvaluate(table: TableHttp, dstIp: string, dstPort: number, head: RequestHead, u: number, clientNamespace?: string): RouteResult {
  checkIp(dstIp, 'routeEvaluate');
  if (!(u >= 0 && u < 1)) throw new MeshError('MESH_ERR_INVALID_ARG', `routeEvaluate: u ${u} is not in [0, 1)`);
  const b = loadBinding();
  return JSON.parse(call('routeEvaluate', () => b.routeEvaluate(JSON.stringify(table), dstIp, dstPort, JSON.stringify(head), u, clientNamespace))) as RouteResult;
}
