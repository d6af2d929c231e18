// A small cluster with every policy scope (mesh-wide, namespace, selector, Service with named and
// numeric target ports, Namespace target, skipped HTTPRoute target) and the node view of node-a
// built from it the way the agent builds it. Its compiled table is the "compiled" table of
// test/fixtures/authz/cases.json, so those rows run end to end in TypeScript and in Rust.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { IndexAllocator, buildNodeView, type NodeView } from '../../../agent/src/state/index.js';
import type { AuthzHttpRequest, TableAuthz } from '../../../agent/src/authz/index.js';
import { parseManifests, resourcesFrom } from '../../../controller/src/model/index.js';
import { nodeConfigFrom, type MeshCfg, type NodeConfig } from '../../../controller/src/views/index.js';
import { REPO_ROOT } from '../../kube/procs.js';

const ns = (name: string, policy?: string, meshed = true): string =>
  `---\napiVersion: v1\nkind: Namespace\nmetadata: { name: ${name}${meshed ? ', labels: { nodemesh.io/mesh: enabled }' : ''}${policy ? `, annotations: { nodemesh.io/default-inbound-policy: ${policy} }` : ''} }\n`;
const pod = (namespace: string, name: string, ip: string, labels: string, node = 'node-a', sa = 'default'): string =>
  `---\napiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: ${namespace}, labels: { ${labels} } }\nspec: { nodeName: ${node}, serviceAccountName: ${sa}, containers: [{ name: c, image: x, ports: [{ name: http, containerPort: 8080 }] }] }\nstatus: { podIP: ${ip} }\n`;
const policy = (kind: string, namespace: string, name: string, spec: string): string =>
  `---\napiVersion: policy.nodemesh.io/v1alpha1\nkind: ${kind}\nmetadata: { name: ${name}, namespace: ${namespace} }\nspec: ${spec}\n`;
const authz = (namespace: string, name: string, spec: string): string => policy('AuthorizationPolicy', namespace, name, spec);
const tls = (namespace: string, name: string, spec: string): string => policy('MeshTLSPolicy', namespace, name, spec);

export const CLUSTER_YAML = [
  ns('shop'), ns('pay', 'deny'), ns('ops', 'cluster-authenticated'), ns('legacy', undefined, false),
  pod('shop', 'web-1', '10.200.1.10', 'app: web', 'node-a', 'web'),
  pod('shop', 'web-2', '10.200.1.11', 'app: web', 'node-a', 'web'),
  pod('shop', 'db', '10.200.1.12', 'app: db', 'node-a', 'db'),
  pod('shop', 'cache', '10.200.1.13', 'app: cache'),
  pod('shop', 'web-3', '10.200.2.10', 'app: web', 'node-b', 'web'),
  pod('pay', 'api', '10.200.1.20', 'app: api'),
  pod('pay', 'worker', '10.200.1.21', 'app: worker'),
  pod('ops', 'prober', '10.200.1.40', 'app: prober'),
  pod('legacy', 'old', '10.200.1.30', 'app: web'),
  // web: port 80 → the named port "http" (resolved per pod from the endpoints), 9000 → 9001
  '---\napiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec: { clusterIP: 10.96.0.10, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: http }, { name: admin, port: 9000, targetPort: 9001 }] }\n',
  // only web-1 is a ready endpoint: web-2 is selected but its named port cannot be resolved
  '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: web-abc, namespace: shop, labels: { kubernetes.io/service-name: web } }\naddressType: IPv4\nports: [{ name: http, port: 8080 }, { name: admin, port: 9001 }]\nendpoints: [{ addresses: [10.200.1.10], conditions: { ready: true }, nodeName: node-a }, { addresses: [10.200.1.11], conditions: { ready: false }, nodeName: node-a }]\n',
  tls('nodemesh-system', 'mesh-strict', '{ mode: STRICT }'),
  tls('shop', 'shop-permissive', '{ mode: PERMISSIVE, portModes: [{ port: 8443, mode: STRICT }] }'),
  tls('shop', 'db-strict', '{ selector: { matchLabels: { app: db } }, mode: STRICT, portModes: [{ port: 9090, mode: DISABLE }] }'),
  authz('nodemesh-system', 'deny-blocked', '{ action: DENY, rules: [{ from: [{ ipBlocks: ["192.0.2.0/24"] }] }] }'),
  authz('nodemesh-system', 'system-only', '{ selector: { matchLabels: { app: web } }, action: DENY, rules: [{}] }'),
  authz('shop', 'web-readers', '{ targetRef: { kind: Service, name: web }, rules: [{ from: [{ identities: ["spiffe://cluster.local/ns/shop/sa/*"] }], to: [{ ports: [80] }] }, { from: [{ namespaces: [ops] }], to: [{ ports: [9000], methods: [GET] }] }] }'),
  authz('shop', 'web-deny-admin', '{ targetRef: { kind: Service, name: web }, action: DENY, rules: [{ from: [{ namespaces: [evil] }], to: [{ ports: [80], paths: [/admin/*] }] }] }'),
  authz('shop', 'db-allow', '{ selector: { matchLabels: { app: db } }, action: ALLOW, rules: [{ from: [{ identities: ["spiffe://cluster.local/ns/shop/sa/web"] }], to: [{ ports: [5432] }] }] }'),
  authz('shop', 'audit-all', '{ action: AUDIT, rules: [{}] }'),
  authz('shop', 'route-deny', '{ targetRef: { group: gateway.networking.k8s.io, kind: HTTPRoute, name: web-split }, action: DENY, rules: [{}] }'),
  authz('shop', 'missing-svc', '{ targetRef: { kind: Service, name: nope }, rules: [] }'),
  authz('pay', 'api-allow', '{ selector: { matchLabels: { app: api } }, rules: [{ from: [{ namespaces: [shop] }] }] }'),
  // L7 fields on one port: hosts and header names lowercased, headers sorted by name
  authz('pay', 'api-l7', '{ selector: { matchLabels: { app: api } }, action: DENY, rules: [{ from: [{ namespaces: [shop] }], to: [{ ports: [7070], methods: [DELETE], notPaths: ["/v1/*"], hosts: ["API.pay.svc.cluster.local", "*.example.com"], headers: { X-Region: ["es-*"], user-agent: ["*iPhone"] } }] }] }'),
  authz('pay', 'other-ns', '{ targetRef: { kind: Namespace, name: shop }, rules: [] }'),
  authz('ops', 'ns-deny', '{ targetRef: { kind: Namespace, name: ops }, action: DENY, rules: [{ from: [{ ipBlocks: ["10.200.9.0/24", "10.200.8.8"] }] }] }'),
].join('');

export const MESH: MeshCfg = { trustDomain: 'cluster.local', trustAnchors: [], defaultInboundPolicy: 'all-authenticated' };

/** The node's config; mesh null: the mesh settings have not arrived. */
export function clusterConfig(yaml = CLUSTER_YAML, mesh: MeshCfg | null = MESH, node = 'node-a'): NodeConfig {
  const p = parseManifests('cluster.yaml', yaml);
  if (p.problems.length) throw new Error(`fixture has problems: ${JSON.stringify(p.problems)}`);
  return nodeConfigFrom(resourcesFrom(p.objects), node, 'cluster.local', mesh ?? undefined);
}

export function clusterView(yaml = CLUSTER_YAML, mesh: MeshCfg | null = MESH): NodeView {
  return buildNodeView(clusterConfig(yaml, mesh), 'node-a', [], new IndexAllocator());
}

export interface CaseRow {
  readonly name: string;
  /** the HTTP request, absent for a TCP connection */
  readonly http?: AuthzHttpRequest;
  readonly input: { dstIp: string; dstPort: number; srcIp: string; identity: string | null; transport: 'mtls' | 'local' | 'plaintext' };
  readonly want: { allow: boolean; code: string; policy: string; audit: string };
}
export interface CaseTable { readonly name: string; readonly description: string; readonly table: TableAuthz; readonly rows: readonly CaseRow[] }

export const CASES_FILE = path.join(REPO_ROOT, 'test', 'fixtures', 'authz', 'cases.json');
export function cases(): { tables: CaseTable[] } {
  return JSON.parse(readFileSync(CASES_FILE, 'utf8')) as { tables: CaseTable[] };
}
