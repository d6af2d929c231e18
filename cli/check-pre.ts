// `nodemesh check --pre`: can nodemesh be installed on this cluster, asked through its API as the
// caller: API server reachable and new enough, may the caller create every object `nodemesh
// install` applies (kubectl auth can-i = SelfSubjectAccessReview), our CRDs present or installable,
// the Gateway API route CRDs present. evaluatePre and neededAccess are pure and unit-tested.

import { MeshError } from '../common/errors.js';
import type { CheckLine } from './check-lines.js';
import type { KubeObject } from './install-render.js';
import { kubectlRun, type KubectlTarget } from './kubectl.js';

/** deploy/README.md: the agent's appArmorProfile field and node-bound projected tokens */
export const MIN_KUBE_VERSION: readonly [number, number] = [1, 30];
export const GATEWAY_CRDS = ['httproutes.gateway.networking.k8s.io', 'grpcroutes.gateway.networking.k8s.io'];

export interface Access { readonly resource: string; readonly group: string; readonly namespace?: string }
export interface AccessAnswer extends Access { readonly allowed: boolean; readonly error?: string }

const KINDS: Readonly<Record<string, { resource: string; group: string; namespaced: boolean }>> = {
  Namespace: { resource: 'namespaces', group: '', namespaced: false },
  CustomResourceDefinition: { resource: 'customresourcedefinitions', group: 'apiextensions.k8s.io', namespaced: false },
  ClusterRole: { resource: 'clusterroles', group: 'rbac.authorization.k8s.io', namespaced: false },
  ClusterRoleBinding: { resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io', namespaced: false },
  Role: { resource: 'roles', group: 'rbac.authorization.k8s.io', namespaced: true },
  RoleBinding: { resource: 'rolebindings', group: 'rbac.authorization.k8s.io', namespaced: true },
  ServiceAccount: { resource: 'serviceaccounts', group: '', namespaced: true },
  ConfigMap: { resource: 'configmaps', group: '', namespaced: true },
  Secret: { resource: 'secrets', group: '', namespaced: true },
  Service: { resource: 'services', group: '', namespaced: true },
  Deployment: { resource: 'deployments', group: 'apps', namespaced: true },
  DaemonSet: { resource: 'daemonsets', group: 'apps', namespaced: true },
};

/** The (resource, namespace) pairs the caller must be allowed to create, once each. */
export function neededAccess(objs: readonly KubeObject[]): Access[] {
  const seen = new Map<string, Access>();
  for (const o of objs) {
    const k = KINDS[o.kind];
    if (!k) throw new MeshError('MESH_ERR_CONFIG', `check --pre does not know the resource of kind ${o.kind}; add it to cli/check-pre.ts KINDS`);
    const a: Access = { resource: k.resource, group: k.group, ...(k.namespaced ? { namespace: o.metadata.namespace ?? 'default' } : {}) };
    seen.set(`${a.group}/${a.resource}/${a.namespace ?? ''}`, a);
  }
  return [...seen.values()];
}

export interface PreInput {
  readonly server: { readonly version?: string; readonly error?: string };
  readonly access: readonly AccessAnswer[];
  /** CRD names the install creates, and which the cluster has */
  readonly ourCrds: readonly string[];
  readonly presentCrds: ReadonlySet<string>;
}

const resName = (a: Access): string => `${a.resource}${a.group ? `.${a.group}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;

export function parseServerVersion(v: string): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function evaluatePre(i: PreInput): CheckLine[] {
  const out: CheckLine[] = [];
  if (!i.server.version) {
    out.push({ ok: false, name: 'API server reachable', detail: i.server.error ?? 'no answer', hint: 'check --kubeconfig/--context and that the API server is up (kubectl cluster-info)' });
    return out;
  }
  out.push({ ok: true, name: 'API server reachable', detail: `Kubernetes ${i.server.version}` });
  const v = parseServerVersion(i.server.version);
  const [wantMaj, wantMin] = MIN_KUBE_VERSION;
  const okVer = v !== undefined && (v[0] > wantMaj || (v[0] === wantMaj && v[1] >= wantMin));
  out.push(okVer
    ? { ok: true, name: 'API server version', detail: `${i.server.version} ≥ ${wantMaj}.${wantMin}` }
    : { ok: false, name: 'API server version', detail: `${i.server.version} is older than ${wantMaj}.${wantMin}`, hint: `upgrade the control plane to Kubernetes ${wantMaj}.${wantMin} or newer (the agent uses appArmorProfile and node-bound service account tokens)` });
  for (const a of i.access) {
    out.push(a.allowed
      ? { ok: true, name: `can create ${resName(a)}`, detail: 'allowed' }
      : { ok: false, name: `can create ${resName(a)}`, detail: a.error ? `could not ask: ${a.error}` : 'forbidden for the current user', hint: `nodemesh install needs create on ${a.resource}${a.group ? ` (API group ${a.group})` : ''}${a.namespace ? ` in namespace ${a.namespace}` : ' (cluster-wide)'}: run as a cluster admin, or bind a ClusterRole granting it (kubectl auth can-i create ${a.resource}${a.group ? `.${a.group}` : ''}${a.namespace ? ` -n ${a.namespace}` : ''} shows the answer)` });
  }
  const canCrd = i.access.find((a) => a.resource === 'customresourcedefinitions')?.allowed ?? false;
  for (const c of i.ourCrds) {
    if (i.presentCrds.has(c)) out.push({ ok: true, name: `CRD ${c}`, detail: 'installed' });
    else if (canCrd) out.push({ ok: true, name: `CRD ${c}`, detail: 'not installed yet; nodemesh install creates it' });
    else out.push({ ok: false, name: `CRD ${c}`, detail: 'not installed, and the current user may not create CRDs', hint: 'ask a cluster admin to run: kubectl apply -k deploy/crds' });
  }
  for (const c of GATEWAY_CRDS) {
    out.push(i.presentCrds.has(c)
      ? { ok: true, name: `Gateway API CRD ${c}`, detail: 'installed' }
      : { ok: false, name: `Gateway API CRD ${c}`, detail: 'not installed: HTTPRoute/GRPCRoute routing cannot be configured', hint: 'install the Gateway API standard channel release (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/<version>/standard-install.yaml)' });
  }
  return out;
}

/** Asks the API server (as the caller) everything evaluatePre needs. */
export async function collectPre(t: KubectlTarget, objs: readonly KubeObject[]): Promise<PreInput> {
  const ver = await kubectlRun(t, ['version', '-o', 'json'], undefined, 30_000);
  let version: string | undefined;
  try { version = (JSON.parse(ver.stdout) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion; } catch { /* below */ }
  const ourCrds = objs.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);
  if (!version) return { server: { error: ver.stderr.trim().split('\n').pop() || `kubectl version exited ${ver.code}` }, access: [], ourCrds, presentCrds: new Set() };
  const access = await Promise.all(neededAccess(objs).map(async (a): Promise<AccessAnswer> => {
    const r = await kubectlRun(t, ['auth', 'can-i', 'create', `${a.resource}${a.group ? `.${a.group}` : ''}`, ...(a.namespace ? ['-n', a.namespace] : [])], undefined, 30_000);
    const answer = r.stdout.trim().split('\n').pop();
    if (answer === 'yes' || answer === 'no') return { ...a, allowed: answer === 'yes' };
    return { ...a, allowed: false, error: r.stderr.trim() || `kubectl auth can-i exited ${r.code}` };
  }));
  const crdList = await kubectlRun(t, ['get', 'crd', '-o', 'name'], undefined, 30_000);
  const presentCrds = new Set(crdList.code === 0 ? crdList.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^customresourcedefinition\.apiextensions\.k8s\.io\//, '')) : []);
  return { server: { version }, access, ourCrds, presentCrds };
}
