// One raw Kubernetes object (from YAML or the API) in, one validated domain object, a problem with
// its field path, or "ignored" (a kind this component does not serve) out. Both sources use it,
// so a manifest and the API server can never disagree on what is valid.

import type { ManifestProblem, Namespace, Pod, Service, ServiceAccount, EndpointSlice, Route, Policy } from './types.js';
import { DNS_LABEL, Invalid, isObj, name, obj } from './fields.js';
import { parseNamespace, parsePod, parseService, parseServiceAccount } from './core.js';
import { parseEndpointSlice } from './network.js';
import { parseRoute } from './routes.js';
import { POLICY_CHECKS } from './policies.js';
import { deepFreeze, loadCrdSchemas, validateSchema, type CrdSchema } from './schema.js';
import { repoPath } from '../../../common/paths.js';

export type ParsedObject =
  | { readonly kind: 'Namespace'; readonly value: Namespace }
  | { readonly kind: 'ServiceAccount'; readonly value: ServiceAccount }
  | { readonly kind: 'Pod'; readonly value: Pod }
  | { readonly kind: 'Service'; readonly value: Service }
  | { readonly kind: 'EndpointSlice'; readonly value: EndpointSlice }
  | { readonly kind: 'Route'; readonly value: Route }
  | { readonly kind: 'Policy'; readonly value: Policy };

export type ConvertResult = { readonly object: ParsedObject } | { readonly problem: ManifestProblem } | { readonly ignored: string };

/** apiVersion/kind pairs served, besides the custom resources of deploy/crds. */
const CORE: Record<string, (o: Record<string, unknown>) => ParsedObject> = {
  'v1/Namespace': (o) => ({ kind: 'Namespace', value: parseNamespace(o) }),
  'v1/ServiceAccount': (o) => ({ kind: 'ServiceAccount', value: parseServiceAccount(o) }),
  'v1/Pod': (o) => ({ kind: 'Pod', value: parsePod(o) }),
  'v1/Service': (o) => ({ kind: 'Service', value: parseService(o) }),
  'discovery.k8s.io/v1/EndpointSlice': (o) => ({ kind: 'EndpointSlice', value: parseEndpointSlice(o) }),
  'gateway.networking.k8s.io/v1/HTTPRoute': (o) => ({ kind: 'Route', value: parseRoute('HTTPRoute', o) }),
  'gateway.networking.k8s.io/v1/GRPCRoute': (o) => ({ kind: 'Route', value: parseRoute('GRPCRoute', o) }),
};

let crdDir = process.env.NODEMESH_CRD_DIR ?? repoPath('deploy/crds');
let crds: Map<string, CrdSchema> | undefined;

/** Points custom-resource validation at another CRD directory (tests, deployments). */
export function setCrdDir(dir: string): void {
  crdDir = dir;
  crds = undefined;
}

function customKinds(): Map<string, CrdSchema> {
  crds ??= loadCrdSchemas(crdDir);
  return crds;
}

function convertCustom(crd: CrdSchema, o: Record<string, unknown>): ParsedObject {
  const meta = obj(o.metadata, 'metadata');
  validateSchema(o, crd.schema, '');
  const value: Policy = deepFreeze({
    kind: crd.kind,
    namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL),
    name: name(meta.name, 'metadata.name'),
    spec: structuredClone(o.spec ?? {}),
  });
  POLICY_CHECKS[crd.kind]?.(value);
  return { kind: 'Policy', value };
}

export function convertObject(raw: unknown, file: string, where: string): ConvertResult {
  if (!isObj(raw)) return { problem: { file, kind: '?', path: where, message: 'must be a mapping with apiVersion and kind' } };
  const kind = typeof raw.kind === 'string' ? raw.kind : '?';
  if (kind === '?') return { problem: { file, kind, path: 'kind', message: 'missing kind' } };
  const apiVersion = typeof raw.apiVersion === 'string' ? raw.apiVersion : 'v1';
  const meta = isObj(raw.metadata) ? raw.metadata : {};
  const nm = typeof meta.name === 'string' ? meta.name : undefined;
  const ns = typeof meta.namespace === 'string' ? meta.namespace : undefined;
  const key = `${apiVersion}/${kind}`;
  try {
    const core = CORE[key];
    if (core) return { object: core(raw) };
    const crd = customKinds().get(key);
    if (crd) return { object: convertCustom(crd, raw) };
    return { ignored: key };
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    return { problem: { file, kind, ...(ns ? { namespace: ns } : {}), ...(nm ? { name: nm } : {}), path: e.path, message: e.message } };
  }
}

/** The identity of an object across versions: kind/namespace/name (kind/name when cluster-scoped). */
export function objectId(o: ParsedObject): string {
  switch (o.kind) {
    case 'Namespace': return `Namespace/${o.value.name}`;
    case 'Route': return `${o.value.kind}/${o.value.namespace}/${o.value.name}`;
    case 'Policy': return `${o.value.kind}/${o.value.namespace}/${o.value.name}`;
    default: return `${o.kind}/${o.value.namespace}/${o.value.name}`;
  }
}
