// Who may use the insight API in Kubernetes mode (--user-auth kubernetes): the caller's Bearer
// token is reviewed by the API server (TokenReview) and what that user may see is Kubernetes RBAC
// on two virtual resources of the group insight.nodemesh.io, asked per namespace
// (SubjectAccessReview): `get stats` (stat, graph, workloads, explain) and `watch taps` (tap).

import { createHash } from 'node:crypto';
import { MeshError } from '../common/errors.js';
import { KubeClient, type KubeConnectOptions } from '../controller/src/sources/index.js';
import type { Caller } from './api.js';

export const INSIGHT_GROUP = 'insight.nodemesh.io';
/** stats: read golden metrics, the graph and explain answers; taps: stream request metadata */
export type Access = 'stats' | 'taps';
const VERB: Readonly<Record<Access, string>> = { stats: 'get', taps: 'watch' };

interface KubeUser { readonly username: string; readonly uid?: string; readonly groups?: readonly string[]; readonly extra?: Readonly<Record<string, readonly string[]>> }

export interface KubeUserAuthOptions extends KubeConnectOptions {
  /** how long a review's answer is reused (default 30 s) */
  readonly cacheMs?: number;
}

/** Caches answers for cacheMs; a token is kept only as its SHA-256. */
export class KubeUserAuth {
  readonly #client: KubeClient;
  readonly #cacheMs: number;
  readonly #users = new Map<string, { at: number; p: Promise<KubeUser> }>();
  readonly #grants = new Map<string, { at: number; p: Promise<boolean> }>();

  constructor(o: KubeUserAuthOptions) {
    this.#client = new KubeClient(o);
    this.#cacheMs = o.cacheMs ?? 30_000;
  }

  /** The caller with the namespaces among `namespaces` where RBAC grants `access`. */
  async caller(token: string, namespaces: readonly string[], access: Access): Promise<Caller> {
    const key = createHash('sha256').update(token).digest('hex');
    const user = await this.#cached(this.#users, key, () => this.#review(token));
    const allowed = await Promise.all(namespaces.map((ns) => this.#cached(this.#grants, `${key}\0${access}\0${ns}`, () => this.#access(user, ns, access))));
    return { user: user.username, namespaces: new Set(namespaces.filter((_, i) => allowed[i])) };
  }

  #cached<T>(m: Map<string, { at: number; p: Promise<T> }>, key: string, make: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = m.get(key);
    if (hit && now - hit.at < this.#cacheMs) return hit.p;
    if (m.size > 10_000) m.clear();
    const p = make();
    m.set(key, { at: now, p });
    p.catch(() => m.delete(key)); // a failed review is asked again next time
    return p;
  }

  async #review(token: string): Promise<KubeUser> {
    const r = await this.#client.call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
    const body = this.#json(r, 'tokenreviews') as { status?: { authenticated?: boolean; user?: KubeUser; error?: string } };
    const u = body.status?.user;
    if (!body.status?.authenticated || !u?.username) throw new MeshError('MESH_ERR_AUTH', `the API server does not accept this token${body.status?.error ? ` (${body.status.error})` : ''}; send a token of your Kubernetes user, e.g. kubectl create token SERVICEACCOUNT`);
    return u;
  }

  async #access(u: KubeUser, namespace: string, access: Access): Promise<boolean> {
    const spec = { user: u.username, ...(u.uid ? { uid: u.uid } : {}), ...(u.groups ? { groups: u.groups } : {}), ...(u.extra ? { extra: u.extra } : {}), resourceAttributes: { namespace, verb: VERB[access], group: INSIGHT_GROUP, resource: access } };
    const r = await this.#client.call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec });
    return (this.#json(r, 'subjectaccessreviews') as { status?: { allowed?: boolean } }).status?.allowed === true;
  }

  #json(r: { status: number; body: string }, what: string): unknown {
    if (r.status === 403) throw new MeshError('MESH_ERR_KUBE_FORBIDDEN', `the controller may not create ${what} (403); grant its ServiceAccount create on ${what} (deploy/base/controller-rbac.yaml)`);
    if (r.status !== 200 && r.status !== 201) throw new MeshError('MESH_ERR_KUBE_API', `${what} answered HTTP ${r.status}: ${r.body.slice(0, 200)}`);
    try { return JSON.parse(r.body); } catch { throw new MeshError('MESH_ERR_KUBE_API', `${what} answered with a body that is not JSON`); }
  }
}
