// Wire shape (JSON) of the HTTP part of the decision table (`DecisionTable.http`): the compiled
// Gateway API routes the native HTTP proxy matches per request (native/src/l7/table.rs parses and
// validates it). Everything is resolved here — precedence order, weights, endpoints, durations in
// milliseconds — so that native code only matches and executes; route() in route.ts is the semantics.

/** How the outbound proxy treats a destination port: detect by peeking, or a known protocol. */
export type TableProtocol = 'detect' | 'http1' | 'h2c' | 'grpc' | 'tcp';

export interface TableStringMatch {
  /** lowercase header name, or the exact query parameter name (case-sensitive, Gateway API). A
   *  `host` header match reads the authority when the request has no `host` header (h2). Query
   *  values are compared raw (no percent-decoding), the first of a repeated parameter counts */
  readonly name: string;
  readonly kind: 'exact' | 'regex';
  readonly value: string;
}

export interface TableMatch {
  /** absent: any path. exact/prefix as Gateway API (a prefix matches whole path segments); regex
   *  is the syntax subset both JavaScript and Rust's regex crate read alike (the controller's
   *  checkRegex), anchored (full match); JavaScript compiles it without flags, so \d \w \b are ASCII */
  readonly path?: { readonly kind: 'exact' | 'prefix' | 'regex'; readonly value: string };
  /** absent: any method */
  readonly method?: string;
  /** every one must match (ANDed); header names lowercase */
  readonly headers: readonly TableStringMatch[];
  /** every one must match (ANDed) */
  readonly query: readonly TableStringMatch[];
}

export interface TableHeaderModifier {
  /** replace (or add) these headers; names lowercase */
  readonly set: readonly { readonly name: string; readonly value: string }[];
  /** append these (a second value when present) */
  readonly add: readonly { readonly name: string; readonly value: string }[];
  /** remove these names (lowercase) */
  readonly remove: readonly string[];
}

export type TablePathModifier =
  | { readonly kind: 'full'; readonly value: string }
  /** replace the matched prefix (the rule's match must be a prefix match: the compiler checks) */
  | { readonly kind: 'prefix'; readonly value: string };

export type TableFilter =
  | { readonly type: 'requestHeaders'; readonly modifier: TableHeaderModifier }
  | { readonly type: 'responseHeaders'; readonly modifier: TableHeaderModifier }
  | {
      readonly type: 'redirect';
      readonly scheme?: string;
      readonly hostname?: string;
      readonly port?: number;
      readonly path?: TablePathModifier;
      /** 301, 302, 303, 307 or 308 (default 302) */
      readonly status: number;
    }
  | { readonly type: 'rewrite'; readonly hostname?: string; readonly path?: TablePathModifier }
  /** a copy of the request (body included up to the retry buffer) to this backend; its response is discarded */
  | { readonly type: 'mirror'; readonly backend: TableBackend; readonly percent: number };

export interface TableEndpoint {
  readonly ip: string;
  readonly port: number;
}

export interface TableBackend {
  /** "namespace/name" of the backend Service, the `backend` label of golden metrics */
  readonly service: string;
  /** the Service port (for labels); endpoints carry the resolved target port */
  readonly port: number;
  /** 0 takes no traffic (kept for labels); weights need not sum to anything */
  readonly weight: number;
  /** ready endpoints; none → 503 (MESH_ERR_NO_ENDPOINTS) */
  readonly endpoints: readonly TableEndpoint[];
  /** set when the backendRef could not be resolved (unknown Service, port, kind): requests that
   *  pick it get 500, as the Gateway API requires */
  readonly invalid?: string;
  /** per-backend filters (backendRefs[].filters): header modifiers only */
  readonly filters?: readonly TableFilter[];
}

export interface TableRetry {
  /** total attempts including the first (Gateway API `retry.attempts` is retries: compiled +1) */
  readonly attempts: number;
  /** HTTP status codes that are retried; connect failures and resets are always retryable */
  readonly codes: readonly number[];
  /** base backoff in ms (doubles each attempt, full jitter) */
  readonly backoffMs: number;
}

export interface TableFault {
  /** name of the policy, for metrics */
  readonly policy: string;
  readonly delay?: { readonly ms: number; readonly percent: number };
  readonly abort?: { readonly status: number; readonly percent: number };
}

export interface TableRateLimit {
  readonly policy: string;
  readonly requestsPerSecond: number;
  readonly burst: number;
}

/** One (route, rule, match) triple, in precedence order within its port. */
export interface TableRouteEntry {
  /** "namespace/name" of the route, the `route_name` label ('' for the default route) */
  readonly route: string;
  /** the `route_kind` label: HTTPRoute, GRPCRoute, or 'default' (no route: the Service itself) */
  readonly kind: 'HTTPRoute' | 'GRPCRoute' | 'default';
  /** index of the rule inside the route */
  readonly rule: number;
  /** hostnames of the route (lowercase, '*.' wildcard prefix allowed); empty: any authority */
  readonly hostnames: readonly string[];
  readonly match: TableMatch;
  /** applied in this order; redirect answers without a backend */
  readonly filters: readonly TableFilter[];
  /** weighted; empty (and no redirect) → 500 as the Gateway API says for a rule without backends */
  readonly backends: readonly TableBackend[];
  /** whole request, all attempts (timeouts.request); 0: none */
  readonly requestTimeoutMs: number;
  /** one attempt (timeouts.backendRequest); 0: none */
  readonly backendTimeoutMs: number;
  readonly retry?: TableRetry;
  readonly fault?: TableFault;
  readonly rateLimit?: TableRateLimit;
}

/** A Service port (vip:port) as the HTTP proxy sees it. */
export interface TableHttpPort {
  /** "namespace/name" of the Service */
  readonly service: string;
  readonly vip: string;
  readonly port: number;
  readonly protocol: TableProtocol;
  /** in precedence order (first match wins). A port no route attaches to has one entry, the
   *  default route (the Service's own endpoints, kind 'default'); once a route attaches, a request
   *  none of its entries match gets 404, as the Gateway API requires */
  readonly routes: readonly TableRouteEntry[];
  /** a Service-level rate limit (RateLimitPolicy on the Service), checked before routing */
  readonly rateLimit?: TableRateLimit;
  /** GAMMA consumer routes, by client namespace (sorted): a route in another namespace than the
   *  Service's applies to clients of its own namespace only, and replaces `routes` for them (their
   *  unmatched requests get 404 too). Absent: none. A proxy that does not read it routes every
   *  client by `routes` (consumer routes then have no effect) */
  readonly consumers?: readonly { readonly namespace: string; readonly routes: readonly TableRouteEntry[] }[];
}

export interface TableHttp {
  /** ms the outbound proxy waits for the client's first bytes before treating it as TCP */
  readonly detectTimeoutMs: number;
  /** ports in `opaque` or with protocol 'tcp' skip detection; destinations that are not a Service
   *  port are detected with this default and, when HTTP, proxied to the original destination
   *  without routing (route() answers 404 for them) */
  readonly defaultProtocol: TableProtocol;
  readonly ports: readonly TableHttpPort[];
  /** Envoy-like limits */
  readonly limits: { readonly maxHeaderBytes: number; readonly retryBufferBytes: number; readonly maxPendingPerEndpoint: number };
  /** Linkerd's default budget: retries ≤ ratio × requests + minPerSecond, over a 10 s window */
  readonly retryBudget: { readonly ratio: number; readonly minPerSecond: number; readonly ttlMs: number };
  /** failure accrual: eject after this many consecutive failures, back off, probe */
  readonly accrual: { readonly consecutiveFailures: number; readonly minBackoffMs: number; readonly maxBackoffMs: number };
  /** IPs of this node's pods whose namespace enables the access log (nodemesh.io/access-log) */
  readonly accessLog?: readonly string[];
  /** this node's traced pods (the mesh has a trace collector) and their namespace's new-root
   *  sampling percentage; their HTTP requests are traced at both hops (native/src/l7/trace.rs) */
  readonly trace?: readonly { readonly ip: string; readonly samplingPercent: number }[];
}

/** The request head route() and native matching see (docs/l7.md). */
export interface RequestHead {
  readonly method: string;
  /** Host or :authority, lowercase, as received (port included when sent) */
  readonly authority: string;
  /** the path only, as received (percent-encoding kept) */
  readonly path: string;
  /** the raw query without '?', '' when none */
  readonly query: string;
  /** lowercase names; repeated headers joined with ',' */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * What route() decides for one request, the shape native `routeEvaluate` returns too (the fixture
 * test compares them field by field). `forward` carries the request as the backend will see it
 * after the rule's request filters; `respond` is answered by the proxy itself.
 */
export type RouteResult =
  | {
      readonly kind: 'forward';
      /** index into the routes the request was matched against: the port's `routes`, or those of
       *  its client namespace in `consumers` */
      readonly entry: number;
      readonly route: string;
      readonly routeKind: TableRouteEntry['kind'];
      readonly rule: number;
      /** index into the entry's `backends` chosen by pickBackend(backends, u) */
      readonly backend: number;
      /** after URLRewrite */
      readonly authority: string;
      readonly path: string;
      /** headers after RequestHeaderModifier filters (rule's, then the backend's), lowercase names, sorted by name */
      readonly headers: readonly (readonly [string, string])[];
    }
  | {
      readonly kind: 'respond';
      /** 301..308 redirect, 404 no route, 500 invalid backend or no backends, 503 no endpoints */
      readonly status: number;
      /** MESH_ERR_NO_ROUTE, MESH_ERR_INVALID_BACKEND, MESH_ERR_NO_ENDPOINTS, or '' for a redirect */
      readonly code: string;
      /** redirects only */
      readonly location?: string;
      /** the matched entry, -1 when none matched */
      readonly entry: number;
    };
