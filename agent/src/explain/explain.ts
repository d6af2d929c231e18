// `nodemesh explain`, pure: why a pod is or is not meshed, and which path a connection from one pod
// to an address takes — decide() on the source node's view, route() on its HTTP table, then
// authorize() on the destination node's table: the functions the proxies' tables are compiled from.

import { decide, compileTable } from '../decide/index.js';
import { authorize, type AuthzVerdict } from '../authz/index.js';
import { route, type RequestHead } from '../routing/index.js';
import type { NodeView, Workload } from '../state/index.js';

/** What the pod's agent last reported (absent: no report). */
export interface PodReport {
  readonly capture: string;
  readonly captureError: string;
  readonly certState: string;
  readonly certNotAfterMs: number;
  /** the report's age */
  readonly ageMs: number;
  /** whether the agent's report stream is connected now */
  readonly connected: boolean;
}

export interface Check { readonly ok: boolean; readonly what: string; readonly detail: string }

export interface PodExplanation {
  readonly pod: string;
  readonly node: string;
  readonly ip: string;
  readonly meshed: boolean;
  /** one line: meshed, or the reason it is not */
  readonly summary: string;
  readonly checks: readonly Check[];
  /** authorization policies that apply to the pod (inbound), in evaluation order */
  readonly policies: readonly string[];
}

const REASON: Readonly<Record<string, string>> = {
  'enrolled': 'its namespace has the label nodemesh.io/mesh=enabled',
  'namespace-not-meshed': 'its namespace does not have the label nodemesh.io/mesh=enabled (kubectl label namespace NS nodemesh.io/mesh=enabled)',
  'namespace-missing': 'its namespace does not exist (yet)',
  'opted-out': 'the pod has the annotation nodemesh.io/capture: "false"',
  'no-pod-ip': 'the pod has no IP yet',
};

export function explainPod(view: NodeView, key: string, report: PodReport | undefined, now: number): PodExplanation | undefined {
  const w = view.local.find((x) => x.key === key);
  if (!w) return undefined;
  const checks: Check[] = [];
  checks.push({ ok: w.enrolled, what: 'enrollment', detail: REASON[w.reason] ?? w.reason });
  if (!report) {
    checks.push({ ok: false, what: 'agent', detail: `the agent of node ${view.nodeName} has not reported: is it running? (nodemesh check)` });
  } else {
    const stale = !report.connected || report.ageMs > 30_000;
    const ago = `${Math.round(report.ageMs / 1000)} s ago`;
    checks.push({ ok: !stale, what: 'agent', detail: stale ? `node ${view.nodeName}'s agent is not connected (last report ${ago}): it may be down, and what follows is from that report` : `node ${view.nodeName}'s agent reported ${ago}` });
    if (w.enrolled) {
      checks.push({ ok: report.capture === 'attached', what: 'capture', detail: report.capture === 'attached' ? 'the steering program is attached on the interface routing to the pod and the pod is in the workload map' : `capture ${report.capture}${report.captureError ? `: ${report.captureError}` : ''}` });
      const days = report.certNotAfterMs ? (report.certNotAfterMs - now) / 3_600_000 : 0;
      checks.push({
        ok: report.certState === 'valid' || report.certState === 'renewing',
        what: 'certificate',
        detail: `${w.identity}: ${report.certState}${report.certNotAfterMs ? `, expires in ${days.toFixed(1)} h` : ''}`,
      });
    }
  }
  if (w.enrolled) checks.push({ ok: true, what: 'listeners', detail: `outbound :${view.proxyPorts[0]}, inbound :${view.proxyPorts[1]}, HBONE :${view.proxyPorts[2]} on node ${view.nodeName}` });
  const table = tableOf(view);
  const tw = table.authz?.workloads.find((x) => x.ip === w.ip);
  const policies = tw ? tw.policies.map((i) => table.authz?.policies[i]?.name ?? '?') : [];
  const meshed = w.enrolled && checks.every((c) => c.ok);
  const summary = !w.enrolled ? `not meshed: ${REASON[w.reason] ?? w.reason}`
    : meshed ? `meshed: ${REASON.enrolled}; capture and certificate are in place`
    : `enrolled but not fully meshed: ${checks.filter((c) => !c.ok).map((c) => `${c.what}: ${c.detail}`).join('; ')}`;
  return { pod: key, node: view.nodeName, ip: w.ip ?? '', meshed, summary, checks, policies: tw ? [...policies, `default:${tw.defaultPolicy}`] : [] };
}

export interface PairInput {
  /** the source pod's node view */
  readonly srcView: NodeView;
  readonly src: string;
  readonly dst: { readonly ip: string; readonly port: number };
  /** the view of the node each destination pod runs on, by node name */
  readonly viewOf: (node: string) => NodeView | undefined;
  /** an HTTP request to match against routes (default: GET /) */
  readonly request?: { readonly method?: string; readonly path?: string; readonly authority?: string; readonly headers?: Readonly<Record<string, string>> };
}

export interface HopExplanation {
  readonly endpoint: string;
  readonly pod: string;
  readonly node: string;
  readonly path: 'same-node' | 'hbone' | 'plaintext' | 'direct';
  readonly detail: string;
  readonly authorization: AuthzVerdict & { readonly transport: string };
}

export interface PairExplanation {
  readonly src: string;
  readonly dst: string;
  readonly captured: boolean;
  readonly summary: string;
  readonly service?: string;
  readonly route?: { readonly name: string; readonly kind: string; readonly rule: number; readonly backends: readonly { readonly service: string; readonly weight: number }[]; readonly status?: number; readonly code?: string };
  readonly hops: readonly HopExplanation[];
}

function head(r: PairInput['request'], dst: { ip: string; port: number }): RequestHead {
  const full = r?.path ?? '/';
  const q = full.indexOf('?');
  return {
    method: (r?.method ?? 'GET').toUpperCase(),
    authority: (r?.authority ?? `${dst.ip}:${dst.port}`).toLowerCase(),
    path: q < 0 ? full : full.slice(0, q),
    query: q < 0 ? '' : full.slice(q + 1),
    headers: Object.fromEntries(Object.entries(r?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

/** Each view's compiled table, kept while the view lives (views are rebuilt per config version). */
const tables = new WeakMap<NodeView, ReturnType<typeof compileTable>>();
function tableOf(view: NodeView): ReturnType<typeof compileTable> {
  let t = tables.get(view);
  if (!t) { t = compileTable(view, 0); tables.set(view, t); }
  return t;
}

/** Authorization at the destination pod's node, with the transport the path implies. */
function authzAt(view: NodeView | undefined, srcIp: string, srcIdentity: string | null, ep: { ip: string; port: number }, transport: 'mtls' | 'local' | 'plaintext', h: RequestHead | undefined): AuthzVerdict & { transport: string } {
  const t = view ? tableOf(view) : undefined;
  if (!t?.authz) return { allow: true, code: '', policy: '', audit: '', transport };
  const v = authorize(t.authz, { dstIp: ep.ip, dstPort: ep.port, srcIp, identity: srcIdentity, transport }, h ? { method: h.method, authority: h.authority, path: h.path, headers: h.headers } : undefined);
  return { ...v, transport };
}

export function explainPair(i: PairInput): PairExplanation | { readonly error: string } {
  const w: Workload | undefined = i.srcView.local.find((x) => x.key === i.src);
  const srcIp = w?.ip;
  if (!w || !srcIp) return { error: `pod ${i.src} is not on node ${i.srcView.nodeName} or has no IP` };
  const dstName = `${i.dst.ip}:${i.dst.port}`;
  const peerOf = (ip: string): { pod: string; node: string; meshed: boolean } => {
    const p = i.srcView.byIp.get(ip);
    return p ? { pod: `${p.namespace}/${p.name}`, node: p.node, meshed: p.meshed } : { pod: '', node: '', meshed: false };
  };
  if (!w.enrolled) {
    const p = peerOf(i.dst.ip);
    const dv = p.node ? i.viewOf(p.node) : undefined;
    const hop: HopExplanation = { endpoint: dstName, pod: p.pod, node: p.node, path: 'plaintext', detail: `${i.src} is not meshed, so its connection is not captured at the source`, authorization: authzAt(p.meshed ? dv : undefined, w.ip, null, i.dst, 'plaintext', undefined) };
    return { src: i.src, dst: dstName, captured: false, summary: `not captured: ${REASON[w.reason] ?? w.reason}; ${p.meshed ? `the destination is meshed and sees plaintext: ${hop.authorization.allow ? 'allowed' : `refused (${hop.authorization.code}, ${hop.authorization.policy})`}` : 'it goes directly'}`, hops: [hop] };
  }
  const d = decide(i.srcView, { direction: 'outbound', src: { ip: w.ip, port: 40000 }, dst: i.dst });
  if (d.kind === 'denied') return { src: i.src, dst: dstName, captured: true, summary: `${d.code}: ${d.message}`, hops: [] };
  const table = tableOf(i.srcView);
  const hport = table.http?.ports.find((p) => p.vip === i.dst.ip && p.port === i.dst.port);
  let routeInfo: PairExplanation['route'];
  let endpoints = d.service ? d.service.endpoints : [d.upstream];
  let h: RequestHead | undefined;
  if (hport && table.http) {
    h = head(i.request, i.dst);
    const r = route(table.http, i.dst, h, 0, w.namespace);
    const entries = hport.consumers?.find((c) => c.namespace === w.namespace)?.routes ?? hport.routes;
    const e = r.entry >= 0 ? entries[r.entry] : undefined;
    routeInfo = {
      name: e?.route || '(default: the Service itself)', kind: e?.kind ?? 'none', rule: e?.rule ?? -1,
      backends: (e?.backends ?? []).map((b) => ({ service: b.service, weight: b.weight })),
      ...(r.kind === 'respond' ? { status: r.status, code: r.code } : {}),
    };
    if (r.kind === 'respond') return { src: i.src, dst: dstName, captured: true, summary: `HTTP ${h.method} ${h.path}: the proxy answers ${r.status}${r.code ? ` (${r.code})` : ''} itself`, service: hport.service, route: routeInfo, hops: [] };
    endpoints = (e?.backends ?? []).filter((b) => b.weight > 0).flatMap((b) => b.endpoints.map((x) => ({ ip: x.ip, port: x.port })));
  }
  const hops = endpoints.map((ep): HopExplanation => {
    const p = peerOf(ep.ip);
    const dv = p.node ? i.viewOf(p.node) : undefined;
    const epName = `${ep.ip}:${ep.port}`;
    if (p.node === i.srcView.nodeName && p.meshed) return { endpoint: epName, pod: p.pod, node: p.node, path: 'same-node', detail: `both pods are on ${p.node}: the node proxy connects locally from ${w.ip}, no tunnel`, authorization: authzAt(dv, srcIp, w.identity, ep, 'local', h) };
    if (p.meshed) return { endpoint: epName, pod: p.pod, node: p.node, path: 'hbone', detail: `HBONE: mTLS (${w.identity} → the pod's identity) to ${ep.ip}:15008 on ${p.node}`, authorization: authzAt(dv, srcIp, w.identity, ep, 'mtls', h) };
    return { endpoint: epName, pod: p.pod, node: p.node, path: p.pod ? 'plaintext' : 'direct', detail: p.pod ? `${p.pod} is not meshed: plaintext TCP from ${w.ip}` : 'outside the cluster: plaintext TCP from the pod\'s own IP', authorization: { allow: true, code: '', policy: '', audit: '', transport: 'plaintext' } };
  });
  const denied = hops.filter((x) => !x.authorization.allow);
  const paths = [...new Set(hops.map((x) => x.path))].join(', ');
  const summary = hops.length === 0 ? 'no endpoint to reach'
    : denied.length === hops.length ? `denied at the destination by ${denied[0]!.authorization.policy} (${denied[0]!.authorization.code})`
    : `${d.service ? `Service ${d.service.name} → ` : ''}${hops.length} endpoint(s) via ${paths}${denied.length ? `; ${denied.length} of them deny` : ''}${routeInfo ? `; route ${routeInfo.name}` : ''}`;
  return { src: i.src, dst: dstName, captured: true, summary, ...(d.service ? { service: d.service.name } : {}), ...(routeInfo ? { route: routeInfo } : {}), hops };
}
