// Domain types of the Gateway API mesh routes (HTTPRoute, GRPCRoute with a Service parentRef) and
// of the L7 policies (FaultPolicy, RateLimitPolicy), validated and readonly. routes.ts produces them
// from YAML; agent/src/routing compiles them into the native HTTP table. Durations are milliseconds.

export interface RouteParentRef { readonly group: string; readonly kind: string; readonly name: string; readonly namespace?: string; readonly port?: number }

export interface HeaderModifier {
  readonly set: readonly { readonly name: string; readonly value: string }[];
  readonly add: readonly { readonly name: string; readonly value: string }[];
  readonly remove: readonly string[];
}

export type PathModifier =
  | { readonly type: 'ReplaceFullPath'; readonly replaceFullPath: string }
  | { readonly type: 'ReplacePrefixMatch'; readonly replacePrefixMatch: string };

export interface BackendObjectRef { readonly group: string; readonly kind: string; readonly name: string; readonly namespace?: string; readonly port?: number }

export type RouteFilter =
  | { readonly type: 'RequestHeaderModifier'; readonly requestHeaderModifier: HeaderModifier }
  | { readonly type: 'ResponseHeaderModifier'; readonly responseHeaderModifier: HeaderModifier }
  | {
      readonly type: 'RequestRedirect';
      readonly requestRedirect: { readonly scheme?: 'http' | 'https'; readonly hostname?: string; readonly port?: number; readonly path?: PathModifier; readonly statusCode: 301 | 302 | 303 | 307 | 308 };
    }
  | { readonly type: 'URLRewrite'; readonly urlRewrite: { readonly hostname?: string; readonly path?: PathModifier } }
  | { readonly type: 'RequestMirror'; readonly requestMirror: { readonly backendRef: BackendObjectRef; readonly percent: number } };

export interface StringMatch { readonly type: 'Exact' | 'RegularExpression'; readonly name: string; readonly value: string }

export interface HttpRouteMatch {
  /** Gateway API default: PathPrefix "/" (set by the parser when absent) */
  readonly path: { readonly type: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value: string };
  readonly headers: readonly StringMatch[];
  readonly queryParams: readonly StringMatch[];
  readonly method?: string;
}

export interface GrpcRouteMatch {
  /** absent: any method of any service */
  readonly method?: { readonly type: 'Exact' | 'RegularExpression'; readonly service?: string; readonly method?: string };
  readonly headers: readonly StringMatch[];
}

export interface RouteBackendRef extends BackendObjectRef {
  /** 0..1000000, default 1 */
  readonly weight: number;
  /** header modifier filters only (others are rejected by the parser) */
  readonly filters: readonly RouteFilter[];
}

export interface RouteRetry {
  /** retries after the first attempt (Gateway API `retry.attempts`) */
  readonly attempts: number;
  readonly codes: readonly number[];
  readonly backoffMs: number;
}

export interface RouteRule {
  readonly name?: string;
  /** HTTPRoute: HttpRouteMatch; GRPCRoute: GrpcRouteMatch. Never empty: the parser adds the default match */
  readonly matches: readonly (HttpRouteMatch | GrpcRouteMatch)[];
  readonly filters: readonly RouteFilter[];
  readonly backendRefs: readonly RouteBackendRef[];
  readonly timeouts?: { readonly requestMs?: number; readonly backendRequestMs?: number };
  readonly retry?: RouteRetry;
}

/** gateway.networking.k8s.io/v1 HTTPRoute or GRPCRoute. */
export interface Route {
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  readonly namespace: string;
  readonly name: string;
  /** metadata.creationTimestamp (RFC 3339) for precedence; '' when unknown (manifest files: the
   *  file's order decides through `order`) */
  readonly creationTimestamp: string;
  /** position among routes of its source, the last tie breaker before namespace/name */
  readonly order: number;
  readonly generation: number;
  readonly parentRefs: readonly RouteParentRef[];
  /** lowercase; empty: any */
  readonly hostnames: readonly string[];
  readonly rules: readonly RouteRule[];
}

/** What a route's status says about one parentRef (Gateway API RouteParentStatus). */
export interface RouteParentStatus {
  readonly parentRef: RouteParentRef;
  readonly controllerName: string;
  readonly conditions: readonly { readonly type: 'Accepted' | 'ResolvedRefs'; readonly status: 'True' | 'False'; readonly reason: string; readonly message: string; readonly observedGeneration: number }[];
}

/** FaultPolicy (policy.nodemesh.io/v1alpha1): Istio-style delay and abort faults on a target. */
export interface FaultPolicy {
  readonly namespace: string;
  readonly name: string;
  readonly targetRef: { readonly group: string; readonly kind: 'Service' | 'HTTPRoute' | 'GRPCRoute'; readonly name: string };
  readonly delay?: { readonly fixedDelayMs: number; readonly percent: number };
  readonly abort?: { readonly httpStatus: number; readonly percent: number };
}

/** RateLimitPolicy (policy.nodemesh.io/v1alpha1): a local token bucket per node proxy. */
export interface RateLimitPolicy {
  readonly namespace: string;
  readonly name: string;
  readonly targetRef: { readonly group: string; readonly kind: 'Service' | 'HTTPRoute' | 'GRPCRoute'; readonly name: string };
  readonly requestsPerSecond: number;
  readonly burst: number;
}
