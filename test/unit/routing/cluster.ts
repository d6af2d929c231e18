// A small mesh for compileHttp: Services (appProtocol, opaque, headless, no endpoints), producer
// HTTPRoutes and a GRPCRoute exercising every precedence tie breaker, unresolvable backends,
// faults and rate limits, and routes that must not attach. Its compiled table is the "compiled"
// table of test/fixtures/routes/cases.json, so those rows run through compiler, route() and native.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpView, RequestHead, RouteResult, TableHttp } from '../../../agent/src/routing/index.js';
import type { ServiceCfg, ServicePortCfg } from '../../../controller/src/views/index.js';
import type { FaultPolicy, HttpRouteMatch, RateLimitPolicy, Route, RouteBackendRef, RouteRule } from '../../../controller/src/model/index.js';
import { REPO_ROOT } from '../../kube/procs.js';

type PortSpec = Partial<ServicePortCfg> & { port: number };
const svcPort = (p: PortSpec): ServicePortCfg => ({
  name: `p${p.port}`, protocol: 'TCP', opaque: false, endpoints: [], ...p,
});
const ep = (ip: string, port: number) => ({ ip, port, node: 'node-a', pod: `pod-${ip}` });
const service = (namespace: string, name: string, vip: string, ports: PortSpec[]): ServiceCfg => ({ namespace, name, vip, ports: ports.map(svcPort) });

export const SERVICES: ServiceCfg[] = [
  service('shop', 'web', '10.96.1.10', [
    { port: 80, appProtocol: 'http', endpoints: [ep('10.200.1.10', 8080), ep('10.200.1.11', 8080)] },
    { port: 9000, endpoints: [ep('10.200.1.10', 9001)] },
    { port: 5432, opaque: true, endpoints: [ep('10.200.1.10', 5432)] },
    { port: 53, protocol: 'UDP', endpoints: [ep('10.200.1.10', 53)] },
  ]),
  service('shop', 'web-v2', '10.96.1.11', [{ port: 80, appProtocol: 'kubernetes.io/h2c', endpoints: [ep('10.200.1.20', 8080)] }]),
  service('shop', 'web-empty', '10.96.1.12', [{ port: 80, appProtocol: 'tcp' }]),
  service('shop', 'grpc', '10.96.1.13', [{ port: 50051, appProtocol: 'grpc', endpoints: [ep('10.200.1.30', 50051)] }]),
  service('shop', 'headless', '', [{ port: 80, endpoints: [ep('10.200.1.40', 8080)] }]),
  service('other', 'ext', '10.96.2.10', [{ port: 80, appProtocol: 'HTTP', endpoints: [ep('10.200.2.10', 80)] }]),
];

const svcParent = (name: string, port?: number, namespace?: string) => ({ group: '', kind: 'Service', name, ...(port !== undefined ? { port } : {}), ...(namespace ? { namespace } : {}) });
export const backend = (name: string, port: number | undefined, weight = 1, extra: Partial<RouteBackendRef> = {}): RouteBackendRef => ({
  group: '', kind: 'Service', name, ...(port !== undefined ? { port } : {}), weight, filters: [], ...extra,
});
export const prefix = (value: string, extra: Partial<HttpRouteMatch> = {}): HttpRouteMatch => ({ path: { type: 'PathPrefix', value }, headers: [], queryParams: [], ...extra });
export const exact = (value: string, extra: Partial<HttpRouteMatch> = {}): HttpRouteMatch => ({ path: { type: 'Exact', value }, headers: [], queryParams: [], ...extra });
export const rule = (matches: RouteRule['matches'], backendRefs: RouteBackendRef[], extra: Partial<RouteRule> = {}): RouteRule => ({ matches, filters: [], backendRefs, ...extra });
export const httpRoute = (name: string, created: string, order: number, parentRefs: Route['parentRefs'], rules: RouteRule[], extra: Partial<Route> = {}): Route => ({
  kind: 'HTTPRoute', namespace: 'shop', name, creationTimestamp: created, order, generation: 1, parentRefs, hostnames: [], rules, ...extra,
});

const JAN = '2026-01-01T00:00:00Z';
const JUN = '2026-06-01T00:00:00Z';
const eq = (name: string, value: string) => ({ type: 'Exact' as const, name, value });

export const ROUTES: Route[] = [
  // the canary: every port of web (no parentRef port), 90/10, the oldest route
  httpRoute('a-old', JAN, 0, [svcParent('web')], [rule([prefix('/')], [backend('web', 80, 90), backend('web-v2', 80, 10)])]),
  // port 80 only; its catch-all ties with a-old's and loses (newer)
  httpRoute('b-new', JUN, 0, [svcParent('web', 80)], [
    rule([prefix('/', { headers: [eq('X-Version', 'two')] })], [backend('web-v2', 80)], { timeouts: { requestMs: 1500, backendRequestMs: 500 }, retry: { attempts: 2, codes: [503, 504], backoffMs: 25 } }),
    rule([prefix('/')], [backend('web', 80)]),
  ]),
  // three routes with the same Exact /same and the same timestamp: order, then name decide
  httpRoute('c-same', JUN, 1, [svcParent('web', 80)], [rule([exact('/same')], [backend('web-v2', 80)])]),
  httpRoute('d-same', JUN, 1, [svcParent('web', 80)], [rule([exact('/same')], [backend('web', 80)])]),
  httpRoute('z-order', JUN, 0, [svcParent('web', 80)], [rule([exact('/same')], [backend('headless', 80)])]),
  // no timestamp (manifest file): after every timestamped route
  httpRoute('0-unknown', '', 0, [svcParent('web', 80)], [rule([exact('/same')], [backend('web', 80)])]),
  // method > headers > queries within /api; rule then match order last
  httpRoute('methods', JAN, 2, [svcParent('web', 80)], [
    rule([prefix('/api'), prefix('/api', { method: 'GET' })], [backend('web', 80)]),
    rule([prefix('/api', { headers: [eq('a', '1'), eq('b', '2')] })], [backend('web-v2', 80)]),
    rule([prefix('/api', { queryParams: [eq('q', '1')] })], [backend('web-v2', 80)]),
  ]),
  // exact, longest prefix, then regex (after every prefix, even '/')
  httpRoute('paths', JAN, 3, [svcParent('web', 80)], [
    rule([{ path: { type: 'RegularExpression', value: '/api/[a-z]+/re' }, headers: [], queryParams: [] }], [backend('web', 80)]),
    rule([prefix('/api/longer')], [backend('web-v2', 80)]),
    rule([exact('/api/exact')], [backend('web-v2', 80)]),
  ]),
  // hostnames: one entry per hostname, ahead of every route without hostnames
  httpRoute('hosts', JUN, 4, [svcParent('web', 80)], [rule([prefix('/')], [backend('web-v2', 80)])], { hostnames: ['*.example.com', 'web.example.com'] }),
  // unresolvable backends (500 when picked) next to resolvable ones: another namespace, headless
  httpRoute('bad-backends', JAN, 5, [svcParent('web', 80)], [rule([exact('/bad')], [
    backend('nope', 80), backend('web', undefined), backend('ext', 80, 1, { namespace: 'other' }), backend('web', 80, 1, { kind: 'ConfigMap' }), backend('web', 8081), backend('headless', 80),
  ])]),
  // filters of every kind, converted
  httpRoute('filters', JAN, 6, [svcParent('web', 9000)], [rule([prefix('/old')], [backend('web', 9000, 1, {
    filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Backend', value: 'web' }], add: [], remove: [] } }],
  })], {
    filters: [
      { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Set', value: 's' }], add: [{ name: 'X-Add', value: 'a' }], remove: ['X-Remove'] } },
      { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [], add: [], remove: ['Server'] } },
      { type: 'URLRewrite', urlRewrite: { hostname: 'new.web', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } },
      { type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'web-v2', port: 80 }, percent: 25 } },
    ],
  }), rule([prefix('/moved')], [], {
    filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'web.example.com', port: 8443, path: { type: 'ReplaceFullPath', replaceFullPath: '/here' }, statusCode: 301 } }],
  })]),
  // a consumer route (clients of namespace other only); must not attach: a Gateway parent, another port
  httpRoute('consumer', JAN, 7, [svcParent('web', undefined, 'shop')], [rule([prefix('/')], [backend('web', 80, 1, { namespace: 'shop' })])], { namespace: 'other' }),
  httpRoute('gateway', JAN, 8, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web' }], [rule([prefix('/')], [backend('web', 80)])]),
  httpRoute('other-port', JAN, 9, [svcParent('web', 8080)], [rule([prefix('/')], [backend('web', 80)])]),
  {
    kind: 'GRPCRoute', namespace: 'shop', name: 'grpc-echo', creationTimestamp: JAN, order: 10, generation: 3, parentRefs: [svcParent('grpc')], hostnames: [],
    rules: [
      rule([{ headers: [] }], [backend('grpc', 50051)]),
      rule([{ method: { type: 'RegularExpression', service: 'grpc\\.health\\..*' }, headers: [] }], [backend('grpc', 50051)]),
      rule([{ method: { type: 'Exact', method: 'Health' }, headers: [] }], [backend('grpc', 50051)]),
      rule([{ method: { type: 'Exact', service: 'echo.Echo' }, headers: [] }], [backend('grpc', 50051)]),
      rule([{ method: { type: 'Exact', service: 'echo.Echo', method: 'Say' }, headers: [eq('x-user', 'ann')] }], [backend('grpc', 50051)]),
      rule([{ method: { type: 'Exact', service: 'echo.Echo', method: 'Say' }, headers: [] }], [backend('grpc', 50051)]),
    ],
  },
];

const target = (kind: 'Service' | 'HTTPRoute' | 'GRPCRoute', name: string) => ({ group: kind === 'Service' ? '' : 'gateway.networking.k8s.io', kind, name });
export const FAULTS: FaultPolicy[] = [
  { namespace: 'shop', name: 'slow-b', targetRef: target('HTTPRoute', 'b-new'), delay: { fixedDelayMs: 100, percent: 50 } },
  { namespace: 'shop', name: 'web-abort', targetRef: target('Service', 'web'), abort: { httpStatus: 503, percent: 10 } },
  { namespace: 'shop', name: 'z-web-abort', targetRef: target('Service', 'web'), abort: { httpStatus: 500, percent: 100 } },
  { namespace: 'shop', name: 'grpc-both', targetRef: target('GRPCRoute', 'grpc-echo'), delay: { fixedDelayMs: 5, percent: 100 }, abort: { httpStatus: 500, percent: 1 } },
  { namespace: 'other', name: 'elsewhere', targetRef: target('Service', 'web'), abort: { httpStatus: 418, percent: 100 } },
  // a Service target must be in the core group: ignored (it would win by name otherwise)
  { namespace: 'shop', name: 'a-wrong-group', targetRef: { group: 'gateway.networking.k8s.io', kind: 'Service', name: 'web' }, abort: { httpStatus: 400, percent: 100 } },
];
export const RATE_LIMITS: RateLimitPolicy[] = [
  { namespace: 'shop', name: 'web-rl', targetRef: target('Service', 'web'), requestsPerSecond: 100, burst: 200 },
  { namespace: 'shop', name: 'canary-rl', targetRef: target('HTTPRoute', 'a-old'), requestsPerSecond: 10, burst: 10 },
];

export function clusterView(over: Partial<HttpView> = {}): HttpView {
  return {
    services: SERVICES.filter((s) => s.vip !== '').sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1)),
    serviceByKey: new Map(SERVICES.map((s) => [`${s.namespace}/${s.name}`, s])),
    routes: ROUTES, faults: FAULTS, rateLimits: RATE_LIMITS, ...over,
  };
}

export interface CaseRow {
  readonly name: string;
  readonly table: string | TableHttp;
  readonly dst: { readonly ip: string; readonly port: number };
  readonly head: RequestHead;
  readonly u: number;
  /** the client pod's namespace (GAMMA consumer routes); absent: none known */
  readonly clientNamespace?: string;
  readonly expect: RouteResult;
}
export interface Cases { readonly description: string; readonly tables: Readonly<Record<string, TableHttp>>; readonly rows: readonly CaseRow[] }

export const CASES_FILE = path.join(REPO_ROOT, 'test', 'fixtures', 'routes', 'cases.json');
export function cases(): Cases {
  return JSON.parse(readFileSync(CASES_FILE, 'utf8')) as Cases;
}
export function tableOf(c: Cases, r: CaseRow): TableHttp {
  if (typeof r.table !== 'string') return r.table;
  const t = c.tables[r.table];
  if (!t) throw new Error(`row ${r.name}: no table ${r.table}`);
  return t;
}
