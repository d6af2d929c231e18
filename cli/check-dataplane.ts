// `nodemesh check --dataplane`: is the running mesh healthy? From the controller's /config_dump
// (connected agents, ACKed versions, CA) and each agent's /ready and /config_dump (config version,
// NACKs, workload certificates): one ✓/✗ line per fact with a hint. evaluateDataPlane is pure and
// unit-tested; the collectors read a simulated cluster (unix sockets) or a controller address.

import path from 'node:path';
import { findRunningCluster, unixGet, type HttpResult } from '../sim/index.js';
import type { CheckLine } from './check-lines.js';

export interface ControllerDump {
  readonly version: number;
  readonly agents: readonly { readonly node: string; readonly acked: number; readonly nacks: number; readonly peer?: string }[];
  readonly ca?: { readonly issuer?: { readonly notAfter: string } };
}

export interface AgentDump {
  readonly config?: { readonly version?: number; readonly connected?: boolean; readonly lastReject?: string | null; readonly mode?: string };
  readonly identities?: readonly { readonly identity: string; readonly state: string; readonly notAfter?: string }[];
}

export interface AgentProbe {
  readonly node: string;
  /** how to reach its admin endpoint, for hints */
  readonly where: string;
  readonly ready?: HttpResult;
  readonly dump?: AgentDump;
  readonly error?: string;
}

export interface DataPlaneInput {
  readonly controller: ControllerDump | { readonly error: string; readonly where: string };
  /** nodes that should run an agent */
  readonly nodes: readonly string[];
  readonly agents: readonly AgentProbe[];
  readonly nowMs: number;
  /** a certificate valid for less than this is ✗ (default 1 h) */
  readonly minValidityMs?: number;
  /** how to see an agent's log, e.g. "kubectl -n nodemesh-system logs ds/nodemesh-agent" */
  readonly logHint: (node: string) => string;
}

const hours = (ms: number): string => (ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : `${Math.max(0, Math.round(ms / 60_000))} min`);

export function evaluateDataPlane(i: DataPlaneInput): CheckLine[] {
  const out: CheckLine[] = [];
  const minValid = i.minValidityMs ?? 3_600_000;
  const ctl = 'error' in i.controller ? undefined : i.controller;
  if (!ctl) {
    const c = i.controller as { error: string; where: string };
    out.push({ ok: false, name: 'controller reachable', detail: `${c.where}: ${c.error}`, hint: 'is the controller running? (kubectl -n nodemesh-system get deploy nodemesh-controller; for a simulated cluster: nodemesh cluster up)' });
  } else {
    out.push({ ok: true, name: 'controller reachable', detail: `config version ${ctl.version}, ${ctl.agents.length} agent(s) connected` });
    const na = ctl.ca?.issuer?.notAfter ? Date.parse(ctl.ca.issuer.notAfter) - i.nowMs : undefined;
    if (na !== undefined) {
      out.push(na > minValid
        ? { ok: true, name: 'mesh CA issuer valid', detail: `expires in ${hours(na)}` }
        : { ok: false, name: 'mesh CA issuer valid', detail: na <= 0 ? 'expired' : `expires in ${hours(na)}`, hint: 'rotate the CA: POST /ca/rotate on the controller admin port (nodemesh docs: identity)' });
    }
  }
  for (const node of i.nodes) {
    const a = i.agents.find((x) => x.node === node);
    if (!a || a.error || !a.ready) {
      out.push({ ok: false, name: `agent ${node} ready`, detail: `not reachable at ${a?.where ?? 'unknown address'}${a?.error ? `: ${a.error}` : ''}`, hint: `is the agent of ${node} running? ${i.logHint(node)}` });
      continue;
    }
    out.push(a.ready.status === 200
      ? { ok: true, name: `agent ${node} ready`, detail: a.ready.body.trim().slice(0, 160) || 'ready' }
      : { ok: false, name: `agent ${node} ready`, detail: `/ready answered ${a.ready.status}: ${a.ready.body.trim().slice(0, 200)}`, hint: `see /config_dump capture and identities on ${a.where}; ${i.logHint(node)}` });
    const cfg = a.dump?.config;
    if (ctl) {
      const seen = ctl.agents.find((x) => x.node === node);
      if (!seen) out.push({ ok: false, name: `agent ${node} config`, detail: 'not connected to the controller', hint: `the agent serves its last good config; check its controller address and token. ${i.logHint(node)}` });
      else if (cfg?.lastReject) out.push({ ok: false, name: `agent ${node} config`, detail: `NACKed an update: ${cfg.lastReject}`, hint: 'fix the object the message names; the agent keeps the last good config' });
      else if (cfg?.version !== seen.acked) out.push({ ok: false, name: `agent ${node} config`, detail: `agent holds version ${cfg?.version ?? 'none'}, controller saw ACK ${seen.acked}`, hint: 'out of sync: wait a second and re-run; if it stays, restart the agent' });
      else out.push({ ok: true, name: `agent ${node} config`, detail: `version ${seen.acked} applied and ACKed${seen.nacks ? ` (${seen.nacks} earlier NACK(s))` : ''}` });
    }
    const ids = a.dump?.identities ?? [];
    const bad = ids.filter((x) => !x.notAfter || Date.parse(x.notAfter) - i.nowMs <= minValid || x.state === 'expired' || x.state === 'pending');
    if (bad.length) {
      out.push({ ok: false, name: `agent ${node} certificates`, detail: bad.slice(0, 3).map((x) => `${x.identity} ${x.state}${x.notAfter ? `, expires in ${hours(Date.parse(x.notAfter) - i.nowMs)}` : ''}`).join('; ') + (bad.length > 3 ? ` (+${bad.length - 3} more)` : ''), hint: `certificates renew through the controller's CertificateService; see identities in /config_dump on ${a.where}` });
    } else {
      const soonest = ids.reduce((m, x) => Math.min(m, Date.parse(x.notAfter!) - i.nowMs), Infinity);
      out.push({ ok: true, name: `agent ${node} certificates`, detail: ids.length ? `${ids.length} valid, the soonest expires in ${hours(soonest)}` : 'no meshed workload on this node' });
    }
  }
  return out;
}

async function getJson<T>(f: () => Promise<HttpResult>): Promise<{ value?: T; error?: string; result?: HttpResult }> {
  try {
    const r = await f();
    if (r.status !== 200) return { error: `HTTP ${r.status}: ${r.body.slice(0, 200)}`, result: r };
    return { value: JSON.parse(r.body) as T, result: r };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function httpGet(url: string, timeoutMs = 5000): Promise<HttpResult> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

/** Reads a running simulated cluster (its sockets under the state dir). */
export async function collectSim(clusterId: string | undefined, nowMs = Date.now()): Promise<DataPlaneInput> {
  const st = findRunningCluster(clusterId);
  const ctlSock = path.join(st.runDir, 'controller', 'admin.sock');
  const c = await getJson<ControllerDump>(() => unixGet(ctlSock, '/config_dump'));
  const agents = await Promise.all(st.nodes.map(async (n): Promise<AgentProbe> => {
    const where = n.adminSocket;
    try {
      const ready = await unixGet(n.adminSocket, '/ready', 3000);
      const dump = await getJson<AgentDump>(() => unixGet(n.adminSocket, '/config_dump', 3000));
      return { node: n.name, where, ready, ...(dump.value ? { dump: dump.value } : {}) };
    } catch (e) {
      return { node: n.name, where, error: (e as Error).message.split(';')[0] ?? 'unreachable' };
    }
  }));
  return {
    controller: c.value ?? { error: c.error ?? 'no answer', where: ctlSock },
    nodes: st.nodes.map((n) => n.name),
    agents,
    nowMs,
    logHint: (node) => `its log: ${st.nodes.find((n) => n.name === node)?.agentLog ?? ''}; restart it with the cluster`,
  };
}

/** Reads a controller admin address; agents are reached at their stream's peer address on `agentPort`;
 *  `expectedNodes` (--nodes) names nodes that must have an agent even if none is connected. */
export async function collectHttp(controllerAdmin: string, agentPort: number, namespace: string, expectedNodes: readonly string[] = [], nowMs = Date.now()): Promise<DataPlaneInput> {
  const base = controllerAdmin.replace(/\/+$/, '');
  const c = await getJson<ControllerDump>(() => httpGet(`${base}/config_dump`));
  const peers = c.value?.agents ?? [];
  const agents = await Promise.all(peers.map(async (p): Promise<AgentProbe> => {
    const peer = p.peer ?? '';
    const host = /^(?:ipv4:)?([\d.]+):\d+$/.exec(peer)?.[1] ?? /^(?:ipv6:)?\[([^\]]+)\]:\d+$/.exec(peer)?.[1];
    const where = host ? `http://${host.includes(':') ? `[${host}]` : host}:${agentPort}` : peer;
    if (!host) return { node: p.node, where, error: `cannot tell the agent's address from peer "${peer}"` };
    try {
      const ready = await httpGet(`${where}/ready`, 3000);
      const dump = await getJson<AgentDump>(() => httpGet(`${where}/config_dump`, 3000));
      return { node: p.node, where, ready, ...(dump.value ? { dump: dump.value } : {}) };
    } catch (e) {
      return { node: p.node, where, error: (e as Error).message };
    }
  }));
  return {
    controller: c.value ?? { error: c.error ?? 'no answer', where: `${base}/config_dump` },
    nodes: [...new Set([...expectedNodes, ...peers.map((p) => p.node)])].sort(),
    agents,
    nowMs,
    logHint: (node) => `kubectl -n ${namespace} get pods -o wide -l app.kubernetes.io/name=nodemesh-agent --field-selector spec.nodeName=${node}, then kubectl logs that pod`,
  };
}
