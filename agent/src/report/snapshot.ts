// What an agent reports to the controller every few seconds, built purely from what it already
// holds: the native golden metrics, the TCP counters, and its pods' mesh state (view, capture,
// certificates). The result is the wire shape of telemetry.proto's Snapshot (camelCase).

import type { NodeView } from '../state/index.js';
import type { CaptureStatus } from '../capture/index.js';
import type { IdentityStatus } from '../identity/index.js';
import type { GoldenSnapshot } from '../telemetry/index.js';

export interface PeerWire { namespace: string; workload: string }
export interface HttpSeriesWire {
  direction: string; src: PeerWire; dst: PeerWire; routeName: string; routeKind: string; backend: string; tls: string;
  requests: number; successes: number; failures: number; latencyCounts: number[]; latencySumMs: number;
}
export interface TcpSeriesWire { direction: string; src: PeerWire; dst: PeerWire; opened: number; closed: number; open: number; bytesRead: number; bytesWritten: number }
export interface PodStateWire { key: string; workload: string; ip: string; meshed: boolean; reason: string; capture: string; captureError: string; identity: string; certState: string; certNotAfterMs: number }
export interface AuthzCountWire { layer: string; policy: string; dst: PeerWire; allow: number; deny: number }
export interface SnapshotWire {
  atMs: number; bucketsMs: number[]; http: HttpSeriesWire[]; tcp: TcpSeriesWire[]; pods: PodStateWire[];
  configVersion: number; configError: string; startedAtMs: number; authz: AuthzCountWire[];
}

/** One prom-client metric's values (`await metric.get()`). */
export interface MetricValues { readonly values: readonly { readonly labels: Readonly<Record<string, string | number>>; readonly value: number }[] }

export interface SnapshotInput {
  readonly atMs: number;
  readonly startedAtMs: number;
  readonly golden: GoldenSnapshot | undefined;
  /** tcp_open_total, tcp_close_total, tcp_open_connections, tcp_read_bytes_total, tcp_write_bytes_total */
  readonly tcp: Readonly<Record<'opened' | 'closed' | 'open' | 'read' | 'written', MetricValues | undefined>>;
  /** inbound_{tcp,http}_authz_{allow,deny}_total */
  readonly authz: Readonly<Record<'tcpAllow' | 'tcpDeny' | 'httpAllow' | 'httpDeny', MetricValues | undefined>>;
  readonly view: NodeView;
  readonly capture: CaptureStatus;
  readonly identities: readonly IdentityStatus[];
  readonly configVersion: number;
  readonly configError?: string;
}

const s = (v: string | number | undefined): string => (v === undefined ? '' : String(v));
const peer = (l: Readonly<Record<string, string | number>>, side: 'src' | 'dst'): PeerWire => ({ namespace: s(l[`${side}_namespace`]), workload: s(l[`${side}_workload`]) });

/** A workload is a service account (the golden metrics' unit, as Linkerd's deployment): TCP
 *  metrics name pods, so their pods are mapped to their service accounts through the view. */
function workloadOfPod(view: NodeView): (p: PeerWire) => PeerWire {
  const sa = new Map<string, string>();
  for (const p of view.byIp.values()) {
    const m = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p.identity);
    if (m) sa.set(`${p.namespace}/${p.name}`, m[2]!);
  }
  for (const w of view.local) sa.set(w.key, w.serviceAccount);
  return (p) => ({ namespace: p.namespace, workload: sa.get(`${p.namespace}/${p.workload}`) ?? p.workload });
}

function httpSeries(g: GoldenSnapshot | undefined): HttpSeriesWire[] {
  if (!g) return [];
  return g.series.map((x) => {
    let successes = 0;
    let failures = 0;
    for (const r of x.responses) if (r.classification === 'success') successes += r.count; else failures += r.count;
    const l = x.labels;
    return {
      direction: l.direction, src: { namespace: l.src_namespace, workload: l.src_workload }, dst: { namespace: l.dst_namespace, workload: l.dst_workload },
      routeName: l.route_name, routeKind: l.route_kind, backend: l.backend, tls: l.tls,
      requests: x.requests, successes, failures, latencyCounts: [...x.latency.counts], latencySumMs: x.latency.sumMs,
    };
  });
}

/** TCP counters summed per (direction, src, dst): close reasons and identities are folded. */
function tcpSeries(t: SnapshotInput['tcp'], wl: (p: PeerWire) => PeerWire): TcpSeriesWire[] {
  const rows = new Map<string, TcpSeriesWire>();
  const add = (m: MetricValues | undefined, field: 'opened' | 'closed' | 'open' | 'bytesRead' | 'bytesWritten'): void => {
    for (const v of m?.values ?? []) {
      const src = wl(peer(v.labels, 'src'));
      const dst = wl(peer(v.labels, 'dst'));
      const direction = s(v.labels.direction);
      const key = `${direction}|${src.namespace}/${src.workload}|${dst.namespace}/${dst.workload}`;
      let r = rows.get(key);
      if (!r) { r = { direction, src, dst, opened: 0, closed: 0, open: 0, bytesRead: 0, bytesWritten: 0 }; rows.set(key, r); }
      r[field] += v.value;
    }
  };
  add(t.opened, 'opened');
  add(t.closed, 'closed');
  add(t.open, 'open');
  add(t.read, 'bytesRead');
  add(t.written, 'bytesWritten');
  return [...rows.values()].sort((a, b) => (a.direction + a.src.workload + a.dst.workload < b.direction + b.src.workload + b.dst.workload ? -1 : 1));
}

function authzCounts(a: SnapshotInput['authz'], wl: (p: PeerWire) => PeerWire): AuthzCountWire[] {
  const rows = new Map<string, AuthzCountWire>();
  const add = (m: MetricValues | undefined, layer: string, field: 'allow' | 'deny'): void => {
    for (const v of m?.values ?? []) {
      const dst = wl(peer(v.labels, 'dst'));
      const policy = s(v.labels.policy);
      const key = `${layer}|${policy}|${dst.namespace}/${dst.workload}`;
      let r = rows.get(key);
      if (!r) { r = { layer, policy, dst, allow: 0, deny: 0 }; rows.set(key, r); }
      r[field] += v.value;
    }
  };
  add(a.tcpAllow, 'tcp', 'allow');
  add(a.tcpDeny, 'tcp', 'deny');
  add(a.httpAllow, 'http', 'allow');
  add(a.httpDeny, 'http', 'deny');
  return [...rows.values()];
}

function podStates(view: NodeView, capture: CaptureStatus, ids: readonly IdentityStatus[]): PodStateWire[] {
  const cap = new Map(capture.pods.map((p) => [p.key, p]));
  const idOf = new Map(ids.map((i) => [i.identity, i]));
  return view.local.map((w) => {
    const c = cap.get(w.key);
    const id = w.enrolled ? idOf.get(w.identity) : undefined;
    return {
      key: w.key, workload: w.serviceAccount, ip: w.ip ?? '', meshed: w.enrolled, reason: w.reason,
      capture: !w.enrolled ? 'off' : c ? (c.state === 'captured' ? 'attached' : 'failed') : 'pending',
      captureError: c?.error ?? '',
      identity: w.enrolled ? w.identity : '',
      certState: id ? id.state : w.enrolled ? 'pending' : '',
      certNotAfterMs: id?.notAfter ? Date.parse(id.notAfter) : 0,
    };
  });
}

export function buildSnapshot(i: SnapshotInput): SnapshotWire {
  const wl = workloadOfPod(i.view);
  return {
    atMs: i.atMs,
    startedAtMs: i.startedAtMs,
    bucketsMs: [...(i.golden?.bucketsMs ?? [])],
    http: httpSeries(i.golden),
    tcp: tcpSeries(i.tcp, wl),
    pods: podStates(i.view, i.capture, i.identities),
    configVersion: i.configVersion,
    configError: i.configError ?? '',
    authz: authzCounts(i.authz, wl),
  };
}
