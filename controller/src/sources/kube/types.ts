// The resource types the Kubernetes source lists and watches: the built-in ones (Namespace, Pod,
// Service, ServiceAccount, EndpointSlice), the Gateway API mesh routes, and one per CRD found in
// deploy/crds (group, served version, plural and scope read from the CRD files themselves).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoPath } from '../../../../common/paths.js';

export interface KubeType {
  /** API group, '' for the core group */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** the resource name in URLs and RBAC rules, e.g. pods, httproutes */
  readonly plural: string;
  /** Namespace is cluster-scoped; everything else is watched across all namespaces */
  readonly namespaced: boolean;
}

export const BUILTIN_TYPES: readonly KubeType[] = Object.freeze([
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute', plural: 'httproutes', namespaced: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'GRPCRoute', plural: 'grpcroutes', namespaced: true },
]);

export function apiVersionOf(t: KubeType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** The collection URL path, across all namespaces for namespaced kinds. */
export function listPath(t: KubeType): string {
  return t.group ? `/apis/${t.group}/${t.version}/${t.plural}` : `/api/${t.version}/${t.plural}`;
}

/** How RBAC names the resource: `pods`, `httproutes.gateway.networking.k8s.io`. */
export function resourceName(t: KubeType): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

export function defaultCrdDir(): string {
  return process.env.NODEMESH_CRD_DIR ?? repoPath('deploy/crds');
}

const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One KubeType per CRD under dir (its storage version if served, else its first served one).
 * A missing directory yields none; unreadable documents are skipped (the model reports them).
 */
export function crdTypes(dir: string): KubeType[] {
  let files: string[];
  try { files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort(); } catch { return []; }
  const out: KubeType[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))) {
      const crd: unknown = doc.errors.length ? undefined : doc.toJS();
      if (!isRec(crd) || crd.kind !== 'CustomResourceDefinition' || !isRec(crd.spec) || !isRec(crd.spec.names)) continue;
      const { group, names, scope, versions } = crd.spec;
      if (typeof group !== 'string' || typeof names.kind !== 'string' || typeof names.plural !== 'string' || !Array.isArray(versions)) continue;
      const served = versions.filter((v): v is Record<string, unknown> => isRec(v) && v.served !== false && typeof v.name === 'string');
      const v = served.find((x) => x.storage === true) ?? served[0];
      if (!v) continue;
      out.push({ group, version: String(v.name), kind: names.kind, plural: names.plural, namespaced: scope !== 'Cluster' });
    }
  }
  return out;
}

/** Every type the source serves: the built-in ones plus the custom kinds of crdDir. */
export function servedTypes(crdDir = defaultCrdDir()): KubeType[] {
  return [...BUILTIN_TYPES, ...crdTypes(crdDir)];
}
