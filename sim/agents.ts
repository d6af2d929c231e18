// One nodemesh agent per simulated node: started with nsenter --net (never `ip netns exec`, which
// remounts /sys and hides the /sys/fs/bpf pins), ready when GET /ready on its admin unix socket
// answers 200. Also the small HTTP-over-unix-socket client the tests and the demo use.

import http from 'node:http';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../common/errors.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../common/agent-process.js';
import { sameProcess, sleep, tail } from './exec.js';
import { CLI_PATH, procRef, spawnInNetns, stopProcess } from './procs.js';
import type { NodeStatus, ProcRef } from './state.js';

export interface HttpResult { readonly status: number; readonly body: string }

/** GET `urlPath` over a unix socket. */
export function unixGet(socketPath: string, urlPath: string, timeoutMs = 5000): Promise<HttpResult> {
  return unixRequest('GET', socketPath, urlPath, timeoutMs);
}

/** `method` `urlPath` over a unix socket, no body (POST runs the controller's admin actions). */
export function unixRequest(method: 'GET' | 'POST', socketPath: string, urlPath: string, timeoutMs = 5000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ method, socketPath, path: urlPath, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new MeshError('MESH_ERR_CLUSTER', `${method} ${urlPath} on ${socketPath} failed: ${e.message}; is the agent running (see its log)?`, { cause: e })));
    req.end();
  });
}

export interface AgentStartOptions {
  readonly timeoutMs?: number;
  readonly command?: readonly string[];
  /** controller mode: where to connect, this node's token file and state dir */
  readonly controller?: { readonly address: string; readonly tokenFile: (node: string) => string; readonly stateDir: (node: string) => string };
}

/** The agent's command line inside its node netns. */
export function agentArgv(node: NodeStatus, manifestsDir: string, command: readonly string[] = ['node', ...AGENT_NODE_FLAGS, CLI_PATH, 'agent'], controller?: AgentStartOptions['controller']): string[] {
  const source = controller
    ? ['--controller', controller.address, '--token-file', controller.tokenFile(node.name), '--state-dir', controller.stateDir(node.name)]
    : ['--manifests', manifestsDir];
  return [...command, '--node', node.name, ...source, '--pin-dir', node.pinDir, '--admin-socket', node.adminSocket];
}

/** Starts the agent of one node and waits for /ready; on failure the error shows the log tail. */
export async function startAgent(node: NodeStatus, manifestsDir: string, opts: AgentStartOptions = {}): Promise<ProcRef> {
  mkdirSync(path.dirname(node.adminSocket), { recursive: true });
  mkdirSync(path.dirname(node.agentLog), { recursive: true });
  const child = spawnInNetns(node.netns, agentArgv(node, manifestsDir, opts.command, opts.controller), { log: node.agentLog, env: { ...AGENT_ENV, NODE_NAME: node.name } });
  child.on('error', () => undefined);
  const ref = procRef(child);
  node.agent = ref;
  try {
    await waitReady(node, ref, opts.timeoutMs ?? 30_000);
  } catch (e) {
    await stopProcess(ref, 'SIGTERM', 3000);
    delete node.agent;
    throw e;
  }
  return ref;
}

async function waitReady(node: NodeStatus, ref: ProcRef, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let last = 'no answer yet';
  for (;;) {
    if (!sameProcess(ref.pid, ref.startTime)) {
      throw new MeshError('MESH_ERR_CLUSTER', `the agent of ${node.name} exited during startup; ${node.agentLog} ends with:\n${tail(node.agentLog)}\nfix the cause above (often: "npm run build", or "nodemesh check")`);
    }
    try {
      const r = await unixGet(node.adminSocket, '/ready', 1000);
      if (r.status === 200) return;
      last = `${r.status} ${r.body.trim()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new MeshError('MESH_ERR_CLUSTER', `the agent of ${node.name} is not ready after ${timeoutMs} ms (last /ready: ${last}); ${node.agentLog} ends with:\n${tail(node.agentLog)}`);
    }
    await sleep(100);
  }
}
