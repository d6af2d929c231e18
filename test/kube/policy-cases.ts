// Policy objects that violate deploy/crds, each with the field path a validator must name. Shared by
// the real-API-server test (the server rejects them) and the unit test of the controller's schema
// check (it rejects them at the same path), so the CRD schema stays the one source of truth.

export interface InvalidPolicyCase {
  readonly name: string;
  readonly yaml: string;
  /** the field path both the API server and the controller report */
  readonly path: string;
  /** enforced by the API server only (CEL x-kubernetes-validations, list-map uniqueness) */
  readonly serverOnly?: boolean;
}

const head = (kind: string, name: string): string =>
  `apiVersion: policy.nodemesh.io/v1alpha1\nkind: ${kind}\nmetadata: { name: ${name}, namespace: nodemesh-example }\n`;

const authz = (name: string, spec: string): string => `${head('AuthorizationPolicy', name)}spec: ${spec}\n`;

export const INVALID_POLICIES: readonly InvalidPolicyCase[] = [
  { name: 'an unknown action', path: 'spec.action', yaml: authz('bad-action', '{ targetRef: { kind: Service, name: web }, action: MAYBE }') },
  { name: 'an ipBlock that is not a CIDR', path: 'spec.rules[0].from[0].ipBlocks[0]', yaml: authz('bad-cidr', '{ rules: [{ from: [{ ipBlocks: ["10.0.0.0/33"] }] }] }') },
  { name: 'both targetRef and selector', path: 'spec', serverOnly: true, yaml: authz('target-and-selector', '{ targetRef: { kind: Service, name: web }, selector: { matchLabels: { app: web } } }') },
  { name: 'a target kind outside the enum', path: 'spec.targetRef.kind', yaml: authz('bad-kind', '{ targetRef: { kind: Deployment, name: web } }') },
  { name: 'a port above 65535', path: 'spec.rules[0].to[0].ports[0]', yaml: authz('bad-port', '{ targetRef: { kind: Service, name: web }, rules: [{ to: [{ ports: [70000] }] }] }') },
  { name: 'an identity that is not a SPIFFE ID', path: 'spec.rules[0].from[0].identities[1]', yaml: authz('bad-identity', '{ targetRef: { kind: Service, name: web }, rules: [{ from: [{ identities: ["spiffe://cluster.local/ns/a/sa/b", "web"] }] }] }') },
  { name: 'a method outside the enum', path: 'spec.rules[1].to[0].methods[0]', yaml: authz('bad-method', '{ targetRef: { kind: Service, name: web }, rules: [{}, { to: [{ methods: [FETCH] }] }] }') },
  { name: 'a path without a leading slash', path: 'spec.rules[0].to[0].paths[0]', yaml: authz('bad-path', '{ targetRef: { kind: Service, name: web }, rules: [{ to: [{ paths: ["api/*"] }] }] }') },
  { name: 'an HTTPRoute target in the core group', path: 'spec.targetRef', serverOnly: true, yaml: authz('bad-group', '{ targetRef: { kind: HTTPRoute, name: web } }') },
  { name: 'a rate of 0', path: 'spec.requestsPerSecond', yaml: `${head('RateLimitPolicy', 'zero-rate')}spec: { targetRef: { kind: Service, name: web }, requestsPerSecond: 0 }\n` },
  { name: 'a rate limit without a rate', path: 'spec.requestsPerSecond', yaml: `${head('RateLimitPolicy', 'no-rate')}spec: { targetRef: { kind: Service, name: web }, burst: 5 }\n` },
  { name: 'a fault with neither delay nor abort', path: 'spec', yaml: `${head('FaultPolicy', 'no-fault')}spec: { targetRef: { kind: Service, name: web } }\n` },
  { name: 'a fault delay that is not a GEP-2257 duration', path: 'spec.delay.fixedDelay', yaml: `${head('FaultPolicy', 'bad-delay')}spec: { targetRef: { kind: Service, name: web }, delay: { fixedDelay: 1.5s } }\n` },
  { name: 'a fault delay percentage over 100', path: 'spec.delay.percentage', yaml: `${head('FaultPolicy', 'bad-percent')}spec: { targetRef: { kind: Service, name: web }, delay: { fixedDelay: 1s, percentage: 101 } }\n` },
  { name: 'a fault abort status outside 200..599', path: 'spec.abort.httpStatus', yaml: `${head('FaultPolicy', 'bad-status')}spec: { targetRef: { kind: Service, name: web }, abort: { httpStatus: 700 } }\n` },
  { name: 'a fault on a route in the core group', path: 'spec.targetRef', yaml: `${head('FaultPolicy', 'bad-group')}spec: { targetRef: { group: "", kind: HTTPRoute, name: web }, abort: { httpStatus: 503 } }\n` },
  { name: 'an mTLS mode outside the enum', path: 'spec.mode', yaml: `${head('MeshTLSPolicy', 'bad-mode')}spec: { mode: "ON" }\n` },
  { name: 'an mTLS port override without a mode', path: 'spec.portModes[0].mode', yaml: `${head('MeshTLSPolicy', 'bad-port-mode')}spec: { mode: STRICT, portModes: [{ port: 80 }] }\n` },
];
