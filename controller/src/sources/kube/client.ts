// The HTTP side of the Kubernetes source: @kubernetes/client-node's KubeConfig resolves the cluster
// and credentials (kubeconfig file, exec/token plugins, in-cluster ServiceAccount, TLS), and plain
// node:http(s) requests carry the list and watch calls so the caller sees every byte of a stream.

import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type * as ClientNode from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { MeshError, type MeshErrorCode } from '../../../../common/errors.js';
import { listPath, resourceName, type KubeType } from './types.js';

export interface KubeConnectOptions {
  /** a kubeconfig file; else an already loaded KubeConfig; else in-cluster or $KUBECONFIG/~/.kube/config */
  readonly kubeconfig?: string;
  readonly kubeConfig?: KubeConfig;
  /** a context of the kubeconfig other than its current one */
  readonly context?: string;
}

const requireCjs = createRequire(import.meta.url);

/** @kubernetes/client-node, loaded on first use: importing it costs ~70 MiB of RSS and ~0.5 s,
 *  which an agent (that shares this package's modules but never talks to the API) must not pay. */
export function clientNode(): typeof ClientNode {
  return requireCjs('@kubernetes/client-node') as typeof ClientNode;
}

/** A failed API call: a MeshError that also carries the HTTP status (0 for transport errors). */
export class KubeApiError extends MeshError {
  readonly status: number;
  constructor(code: MeshErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

export function loadKubeConfig(o: KubeConnectOptions): KubeConfig {
  let kc: KubeConfig;
  try {
    if (o.kubeConfig) kc = o.kubeConfig;
    else {
      kc = new (clientNode().KubeConfig)();
      if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
      else kc.loadFromDefault();
    }
    if (o.context) kc.setCurrentContext(o.context);
  } catch (e) {
    throw new MeshError('MESH_ERR_KUBE_CONFIG', `cannot load the Kubernetes client configuration${o.kubeconfig ? ` from ${o.kubeconfig}` : ''}: ${(e as Error).message}`, { cause: e });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new MeshError('MESH_ERR_KUBE_CONFIG', `the Kubernetes client configuration${o.kubeconfig ? ` ${o.kubeconfig}` : ''} names no cluster server; pass --kubeconfig FILE or run in a pod with a ServiceAccount`);
  }
  return kc;
}

/** Reads a whole response body (bounded), for lists and error statuses. */
export function readBody(res: http.IncomingMessage, limit = 512 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { res.destroy(new Error(`response larger than ${limit} bytes`)); return; }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('close', () => { if (!res.complete) reject(new Error('connection closed before the response was complete')); });
  });
}

/** The message of a Kubernetes Status body, or the start of whatever the body is. */
function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: unknown };
    if (typeof s.message === 'string') return s.message;
  } catch { /* not a Status */ }
  return body.slice(0, 200).trim() || '(empty body)';
}

/** Maps an HTTP error status to the MeshError a human can act on. 410 is handled by the caller. */
export function apiError(t: KubeType, verb: string, status: number, body: string): KubeApiError {
  const what = `${verb} ${resourceName(t)}`;
  const msg = statusMessage(body);
  switch (status) {
    case 401:
      return new KubeApiError('MESH_ERR_KUBE_UNAUTHORIZED', status, `the API server rejected the controller's credentials (401) to ${what}: ${msg}; renew the token or certificate in the kubeconfig`);
    case 403:
      return new KubeApiError('MESH_ERR_KUBE_FORBIDDEN', status, `the controller may not ${what} (403: ${msg}); grant get, list and watch on ${resourceName(t)} to its ServiceAccount (ClusterRole in deploy/base)`);
    case 404:
      return new KubeApiError('MESH_ERR_KUBE_API_MISSING', status, `the API server does not serve ${t.group || 'core'}/${t.version} ${t.plural} (404: ${msg}); install its CRD — the other types are still served, this one is retried`);
    default:
      return new KubeApiError('MESH_ERR_KUBE_API', status, `${what}: HTTP ${status}: ${msg}`);
  }
}

export class KubeClient {
  readonly config: KubeConfig;
  readonly server: string;

  constructor(o: KubeConnectOptions) {
    this.config = loadKubeConfig(o);
    this.server = this.config.getCurrentCluster()!.server;
  }

  /**
   * One request with a JSON body (a PATCH of a status subresource, a GET of one object): resolves
   * with the status and body whatever the status; rejects with MESH_ERR_KUBE_API on transport errors.
   */
  async call(method: string, urlPath: string, body: unknown, contentType = 'application/json', timeoutMs = 10_000, signal?: AbortSignal): Promise<{ status: number; body: string }> {
    const url = new URL(this.server.replace(/\/+$/, '') + urlPath);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const opts: https.RequestOptions = { headers: { Accept: 'application/json', 'User-Agent': 'nodemesh-controller', ...(data ? { 'Content-Type': contentType, 'Content-Length': String(data.length) } : {}) } };
    try {
      await this.config.applyToHTTPSOptions(opts);
    } catch (e) {
      throw new KubeApiError('MESH_ERR_KUBE_CONFIG', 0, `cannot apply the Kubernetes credentials: ${(e as Error).message}`, { cause: e });
    }
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { ...opts, method, ...(signal ? { signal } : {}) }, (res) => {
        readBody(res, 16 * 1024 * 1024).then((b) => resolve({ status: res.statusCode ?? 0, body: b }), (e: Error) => reject(new KubeApiError('MESH_ERR_KUBE_API', 0, `${method} ${url.pathname}: ${e.message}`, { cause: e })));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new KubeApiError('MESH_ERR_KUBE_API', 0, `${method} ${url.pathname}: ${e.message}`, { cause: e })));
      req.end(data);
    });
  }

  /**
   * Opens GET <collection of t>?query and resolves with the response, whatever its status. The
   * socket idle timeout is idleMs; `signal` aborts the request and destroys its socket. No agent
   * keeps connections alive, so nothing holds the process once the response is finished.
   */
  async open(t: KubeType, query: Record<string, string>, signal: AbortSignal, idleMs: number): Promise<http.IncomingMessage> {
    const url = new URL(this.server.replace(/\/+$/, '') + listPath(t));
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: https.RequestOptions = { headers: { Accept: 'application/json', 'User-Agent': 'nodemesh-controller' } };
    try {
      await this.config.applyToHTTPSOptions(opts);
    } catch (e) {
      throw new KubeApiError('MESH_ERR_KUBE_CONFIG', 0, `cannot apply the Kubernetes credentials: ${(e as Error).message}`, { cause: e });
    }
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { ...opts, method: 'GET', signal }, resolve);
      req.setTimeout(idleMs, () => req.destroy(new Error(`no data for ${idleMs} ms`)));
      req.on('error', (e) => reject(new KubeApiError('MESH_ERR_KUBE_API', 0, `GET ${url.pathname}: ${e.message}`, { cause: e })));
      req.end();
    });
  }
}
