// Prometheus metrics of one agent, named after Linkerd's where one exists (tcp_open_total, …),
// with src/dst workload labels resolved from the node view. Connection events arrive in batches
// from native code; nothing here runs per byte. BPF counters are read at scrape time.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from '../../../common/process-metrics.js';
import { COUNTER_NAMES } from '../../../common/layout.js';
import type { ConnEvent } from '../../../native/index.js';
import type { NodeView } from '../state/index.js';

const CONN_LABELS = ['direction', 'src_namespace', 'src_workload', 'dst_namespace', 'dst_workload', 'dst_service', 'tls', 'connection_security_policy', 'src_identity', 'dst_identity'] as const;
/** Linkerd's buckets with 0.1, 0.25 and 0.5 ms added below them. */
export const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000];
/** The same bounds in seconds: histograms are exported in base units (promtool check metrics). */
export const LATENCY_BUCKETS_SECONDS = LATENCY_BUCKETS_MS.map(msToSeconds);

/** A millisecond bound or sum as Prometheus' seconds, without binary noise (0.3, not 0.30000000000000004). */
export function msToSeconds(ms: number): number {
  return Number((ms / 1000).toPrecision(12));
}

export type ConnLabels = {
  direction: string; src_namespace: string; src_workload: string; dst_namespace: string; dst_workload: string; dst_service: string;
  /** Linkerd's: "true" when the bytes crossed the node link in mTLS */
  tls: string;
  /** ztunnel's: mutual_tls (HBONE), none (same node, identity known without TLS), unknown (plaintext) */
  connection_security_policy: string;
  src_identity: string;
  dst_identity: string;
};

/** One row of the native HttpAuthzCounters snapshot (native/src/l7/authz_http.rs). */
export interface HttpAuthzCount { readonly policy: string; readonly allow: number; readonly deny: number }

export class AgentMetrics {
  readonly registry = new Registry();
  readonly #open: Counter<string>;
  readonly #close: Counter<string>;
  readonly #active: Gauge<string>;
  readonly #read: Counter<string>;
  readonly #write: Counter<string>;
  readonly #duration: Histogram<string>;
  readonly manifestRejected: Gauge<string>;
  readonly podCaptureFailed: Gauge<string>;
  readonly captureReconcileErrors: Counter<string>;
  readonly enrolled: Gauge<string>;
  readonly eventsDropped: Gauge<string>;
  readonly #authzAllow: Counter<string>;
  readonly #authzDeny: Counter<string>;
  readonly #authzAudit: Counter<string>;
  #bpfCounters: () => number[] = () => [];
  /** per-policy L7 authorization counts, kept by the native proxy (HttpAuthzCounters::snapshot) */
  #httpAuthz: () => readonly HttpAuthzCount[] = () => [];
  /** labels of connections reported open and not yet closed, to keep tcp_open_connections exact */
  readonly #live = new Map<number, ConnLabels>();

  constructor(nodeName: string) {
    this.registry.setDefaultLabels({ node: nodeName });
    // the event-loop lag histogram samples once a second, not every 10 ms: at prom-client's default
    // its libuv timer alone cost an idle agent ~6 ms of CPU per second (bench/footprint)
    registerProcessMetrics(this.registry, 'nodemesh_agent_');
    const r = [this.registry];
    this.#open = new Counter({ name: 'tcp_open_total', help: 'TCP connections opened by the node proxy', labelNames: CONN_LABELS, registers: r });
    this.#close = new Counter({ name: 'tcp_close_total', help: 'TCP connections closed, by close reason', labelNames: [...CONN_LABELS, 'reason'], registers: r });
    this.#active = new Gauge({ name: 'tcp_open_connections', help: 'TCP connections currently open through the node proxy', labelNames: CONN_LABELS, registers: r });
    this.#read = new Counter({ name: 'tcp_read_bytes_total', help: 'Bytes the proxy read from the client side', labelNames: CONN_LABELS, registers: r });
    this.#write = new Counter({ name: 'tcp_write_bytes_total', help: 'Bytes the proxy wrote to the client side', labelNames: CONN_LABELS, registers: r });
    this.#duration = new Histogram({ name: 'tcp_connection_duration_seconds', help: 'Lifetime of proxied TCP connections, seconds', labelNames: CONN_LABELS, buckets: LATENCY_BUCKETS_SECONDS, registers: r });
    this.manifestRejected = new Gauge({ name: 'nodemesh_manifest_rejected_objects', help: 'Manifest objects rejected in the latest read', registers: r });
    this.podCaptureFailed = new Gauge({ name: 'nodemesh_pod_capture_failed', help: '1 for each enrolled pod whose capture is not in place', labelNames: ['namespace', 'pod'], registers: r });
    this.captureReconcileErrors = new Counter({ name: 'nodemesh_capture_reconcile_errors_total', help: 'Capture reconcile passes that hit an error', registers: r });
    this.enrolled = new Gauge({ name: 'nodemesh_workloads_enrolled', help: 'Pods of this node enrolled in the mesh', registers: r });
    this.#authzAllow = new Counter({ name: 'inbound_tcp_authz_allow_total', help: 'Inbound connections an authorization policy allowed, by policy', labelNames: ['policy', 'dst_namespace', 'dst_workload', 'tls'], registers: r });
    this.#authzDeny = new Counter({ name: 'inbound_tcp_authz_deny_total', help: 'Inbound connections refused by authorization (or STRICT mTLS), by policy', labelNames: ['policy', 'dst_namespace', 'dst_workload', 'tls', 'reason'], registers: r });
    this.#authzAudit = new Counter({ name: 'inbound_tcp_authz_audit_total', help: 'Inbound connections an AUDIT authorization policy matched (they went on), by policy', labelNames: ['policy', 'dst_namespace', 'dst_workload', 'tls'], registers: r });
    this.eventsDropped = new Gauge({ name: 'nodemesh_proxy_events_dropped', help: 'Connection events the native proxy dropped because JavaScript was not draining them', registers: r });
    const httpAuthz = (): readonly HttpAuthzCount[] => this.#httpAuthz();
    for (const [name, key, help] of [
      ['inbound_http_authz_allow_total', 'allow', 'Inbound HTTP requests an authorization policy allowed, by policy (counted natively)'],
      ['inbound_http_authz_deny_total', 'deny', 'Inbound HTTP requests refused by authorization (403, gRPC PERMISSION_DENIED), by policy (counted natively)'],
    ] as const) {
      new Counter({
        name, help, labelNames: ['policy'], registers: r,
        collect() {
          this.reset();
          for (const c of httpAuthz()) if (c[key] > 0) this.inc({ policy: c.policy }, c[key]);
        },
      });
    }
    const bpfValues = (): number[] => this.#bpfCounters();
    new Counter({
      name: 'nodemesh_bpf_packets_total',
      help: 'Packets seen by the tc steering program, by decision',
      labelNames: ['reason'],
      registers: r,
      collect() {
        const values = bpfValues();
        this.reset();
        COUNTER_NAMES.forEach((name, i) => this.inc({ reason: name }, values[i] ?? 0));
      },
    });
  }

  setBpfCounterSource(f: () => number[]): void {
    this.#bpfCounters = f;
  }

  /** Where inbound_http_authz_*_total read their counts at scrape time (the native proxy's snapshot). */
  setHttpAuthzSource(f: () => readonly HttpAuthzCount[]): void {
    this.#httpAuthz = f;
  }

  /** Labels for an event: the pod on each side, or "unknown" outside the mesh's view. */
  static labels(view: NodeView | undefined, e: ConnEvent): ConnLabels {
    const src = view?.byIp.get(e.srcIp);
    // a Service connection is labelled with the endpoint actually reached and the service name
    const dst = view?.byIp.get(e.upstreamIp || e.dstIp);
    return {
      direction: e.direction,
      src_namespace: src?.namespace ?? 'unknown',
      src_workload: src?.name ?? 'unknown',
      dst_namespace: dst?.namespace ?? 'unknown',
      dst_workload: dst?.name ?? 'unknown',
      dst_service: e.service,
      tls: e.tls ? 'true' : 'false',
      connection_security_policy: e.tls ? 'mutual_tls' : e.srcIdentity && e.dstIdentity ? 'none' : 'unknown',
      src_identity: e.srcIdentity,
      dst_identity: e.dstIdentity,
    };
  }

  record(e: ConnEvent, l: ConnLabels): void {
    // authorization runs where the destination pod lives: inbound, or outbound to a pod of this node
    const authzHere = e.direction === 'inbound' || l.connection_security_policy === 'none';
    if (e.kind === 'open') {
      if (authzHere) this.#authzAllow.inc({ policy: e.policy, dst_namespace: l.dst_namespace, dst_workload: l.dst_workload, tls: l.tls });
      if (authzHere && e.audit) this.#authzAudit.inc({ policy: e.audit, dst_namespace: l.dst_namespace, dst_workload: l.dst_workload, tls: l.tls });
      this.#open.inc(l);
      this.#active.inc(l);
      this.#live.set(e.id, l);
      return;
    }
    const opened = this.#live.get(e.id);
    if (opened) {
      this.#active.dec(opened);
      this.#live.delete(e.id);
    }
    const lc = opened ?? l;
    this.#close.inc({ ...lc, reason: e.reason });
    // a cross-node denial is the destination node's: the client node only sees the peer's 401
    const decidedHere = e.direction === 'inbound' || lc.connection_security_policy === 'none';
    if (decidedHere && (e.reason === 'MESH_ERR_AUTHZ_DENIED' || e.reason === 'MESH_ERR_MTLS_REQUIRED')) {
      this.#authzDeny.inc({ policy: e.policy, dst_namespace: lc.dst_namespace, dst_workload: lc.dst_workload, tls: lc.tls, reason: e.reason });
    }
    this.#read.inc(lc, e.bytesUp);
    this.#write.inc(lc, e.bytesDown);
    this.#duration.observe(lc, e.durationUs / 1e6);
  }
}
