// How the CLI reaches the controller's insight API: the running simulated cluster's UI socket
// (found from its state), or a URL (--controller http://HOST:8084, with --token). GET JSON, or a
// newline-delimited stream for tap. API errors come back as MeshErrors with their own code.

import http from 'node:http';
import path from 'node:path';
import { MeshError, ERROR_CODES, type MeshErrorCode } from '../common/errors.js';
import { findRunningCluster } from '../sim/index.js';

export interface Target { readonly socketPath?: string; readonly base?: URL; readonly token?: string }

export function targetOf(values: Record<string, string | boolean | undefined>): Target {
  const url = typeof values.controller === 'string' ? values.controller : undefined;
  const token = typeof values.token === 'string' ? values.token : process.env.NODEMESH_TOKEN;
  if (url) {
    let base: URL;
    try { base = new URL(url); } catch { throw new MeshError('MESH_ERR_USAGE', `--controller must be a URL like http://HOST:8084, got "${url}"`); }
    return { base, ...(token ? { token } : {}) };
  }
  const st = findRunningCluster(typeof values.cluster === 'string' ? values.cluster : undefined);
  return { socketPath: path.join(st.runDir, 'controller', 'ui.sock') };
}

function request(t: Target, pathAndQuery: string): http.ClientRequest {
  const headers: Record<string, string> = t.token ? { authorization: `Bearer ${t.token}` } : {};
  if (t.socketPath) return http.request({ socketPath: t.socketPath, path: pathAndQuery, headers });
  return http.request(new URL(pathAndQuery, t.base), { headers });
}

function apiError(status: number, body: string): MeshError {
  let e: { code?: string; message?: string } = {};
  try { e = JSON.parse(body) as typeof e; } catch { /* not JSON */ }
  const code = e.code && e.code in ERROR_CODES ? (e.code as MeshErrorCode) : 'MESH_ERR_COMMAND';
  return new MeshError(code, e.message ?? `the controller answered ${status}: ${body.slice(0, 200)}`);
}

const unreachable = (t: Target, e: Error): MeshError => new MeshError('MESH_ERR_COMMAND', `cannot reach the controller's UI at ${t.socketPath ?? t.base?.href}: ${e.message}; is the cluster (or the controller) running?`);

export function getJson<T>(t: Target, pathAndQuery: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(t, pathAndQuery);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(apiError(res.statusCode ?? 0, body)); return; }
        try { resolve(JSON.parse(body) as T); } catch (e) { reject(new MeshError('MESH_ERR_COMMAND', `the controller sent invalid JSON: ${(e as Error).message}`)); }
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e) => reject(unreachable(t, e)));
    req.end();
  });
}

/** Streams NDJSON lines to onLine until the server ends, onLine returns false, or stop() is called. */
export function streamLines(t: Target, pathAndQuery: string, onLine: (v: Record<string, unknown>) => boolean): { done: Promise<void>; stop(): void } {
  let req: http.ClientRequest | undefined;
  const done = new Promise<void>((resolve, reject) => {
    req = request(t, pathAndQuery);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => reject(apiError(res.statusCode ?? 0, body)));
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line) continue;
          if (!onLine(JSON.parse(line) as Record<string, unknown>)) { req?.destroy(); resolve(); return; }
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', (e) => { if ((e as { code?: string }).code === 'ECONNRESET') resolve(); else reject(unreachable(t, e)); });
    req.end();
  });
  return { done, stop: () => req?.destroy() };
}
