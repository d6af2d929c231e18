// Node credentials in Kubernetes: the agent presents its projected ServiceAccount token; the
// controller asks the API server (TokenReview) who it is. The token must authenticate as the
// agent's ServiceAccount and be bound to the node the agent names (the node-name claim the API
// server puts in the review's user.extra for pod- or node-bound tokens).

import http from 'node:http';
import https from 'node:https';
import { MeshError } from '../../../common/errors.js';
import { loadKubeConfig, readBody, type KubeConnectOptions } from '../sources/kube/client.js';
import type { NodeAuth } from './auth.js';

export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

export interface TokenReviewOptions extends KubeConnectOptions {
  /** the agents' ServiceAccount, default nodemesh-system/nodemesh-agent */
  readonly serviceAccount?: { readonly namespace: string; readonly name: string };
  /** audiences the token must carry, default the API server's */
  readonly audiences?: readonly string[];
}

export class TokenReviewAuth implements NodeAuth {
  readonly #o: TokenReviewOptions;
  readonly #user: string;

  constructor(o: TokenReviewOptions) {
    this.#o = o;
    const sa = o.serviceAccount ?? { namespace: 'nodemesh-system', name: 'nodemesh-agent' };
    this.#user = `system:serviceaccount:${sa.namespace}:${sa.name}`;
  }

  async verify(node: string, token: string): Promise<void> {
    if (!token) throw new MeshError('MESH_ERR_AUTH', `node "${node}" presented no token; mount the agent's projected ServiceAccount token`);
    const kc = loadKubeConfig(this.#o);
    const url = new URL(`${kc.getCurrentCluster()!.server.replace(/\/+$/, '')}/apis/authentication.k8s.io/v1/tokenreviews`);
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(this.#o.audiences ? { audiences: this.#o.audiences } : {}) } });
    const opts: https.RequestOptions = { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' } };
    await kc.applyToHTTPSOptions(opts);
    const mod = url.protocol === 'http:' ? http : https;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request(url, opts, resolve);
      req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
      req.on('error', (e) => reject(new MeshError('MESH_ERR_KUBE_API', `TokenReview failed: ${e.message}`)));
      req.end(body);
    });
    const text = await readBody(res);
    if (res.statusCode === 403) throw new MeshError('MESH_ERR_KUBE_FORBIDDEN', `the controller may not create tokenreviews (403); grant it create on tokenreviews.authentication.k8s.io`);
    if (res.statusCode !== 201 && res.statusCode !== 200) throw new MeshError('MESH_ERR_KUBE_API', `TokenReview answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const status = (JSON.parse(text) as { status?: { authenticated?: boolean; user?: { username?: string; extra?: Record<string, string[]> }; error?: string } }).status ?? {};
    if (!status.authenticated) throw new MeshError('MESH_ERR_AUTH', `node "${node}" presented a token the API server does not accept${status.error ? `: ${status.error}` : ''}`);
    if (status.user?.username !== this.#user) throw new MeshError('MESH_ERR_AUTH', `node "${node}" presented a token of ${status.user?.username ?? '?'}, not of the agent ServiceAccount ${this.#user}`);
    const bound = status.user.extra?.[NODE_NAME_EXTRA]?.[0];
    if (bound !== node) throw new MeshError('MESH_ERR_AUTH', `node "${node}" presented a token bound to node ${bound ?? '(none)'}; an agent may only ask for its own node's view`);
  }
}
