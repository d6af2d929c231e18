// `nodemesh identity show --node NODE`: the workload identities a node's agent holds — SPIFFE ID,
// serial, validity, state — read from its /config_dump (the simulated cluster's admin socket, or
// an agent's admin URL). Keys are never in /config_dump, so they cannot be printed here.

import http from 'node:http';
import { MeshError } from '../common/errors.js';
import { findRunningCluster } from '../sim/index.js';
import { unixGet } from '../sim/agents.js';
import { parseFlags, usageError } from './args.js';
import { usageOf } from './commands.js';

export interface IdentityRow {
  readonly identity: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly state: string;
  readonly lastError?: string;
}

function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new MeshError('MESH_ERR_COMMAND', `GET ${url} failed: ${e.message}; is the agent running and its admin port reachable?`)));
  });
}

/** Formats the rows as a table (one line per identity), expiry relative to `now`. */
export function formatIdentities(node: string, rows: readonly IdentityRow[], now = Date.now()): string {
  if (rows.length === 0) return `node ${node} holds no workload identity (no enrolled pod, or certificates not issued yet)`;
  const left = (iso: string): string => {
    const ms = Date.parse(iso) - now;
    if (Number.isNaN(ms)) return '?';
    if (ms <= 0) return 'expired';
    const h = Math.floor(ms / 3600_000);
    return h >= 1 ? `${h}h${Math.floor((ms % 3600_000) / 60_000)}m` : `${Math.floor(ms / 60_000)}m`;
  };
  const w = Math.max(8, ...rows.map((r) => r.identity.length));
  const lines = [`${'IDENTITY'.padEnd(w)}  ${'SERIAL'.padEnd(34)}  ${'NOT AFTER'.padEnd(24)}  LEFT     STATE`];
  for (const r of rows) {
    lines.push(`${r.identity.padEnd(w)}  ${r.serial.padEnd(34)}  ${r.notAfter.padEnd(24)}  ${left(r.notAfter).padEnd(7)}  ${r.state}${r.lastError ? ` (${r.lastError})` : ''}`);
  }
  return lines.join('\n');
}

export async function identityShow(argv: string[]): Promise<number> {
  const usage = usageOf(['identity', 'show']);
  const { values } = parseFlags(argv, { node: { type: 'string' }, cluster: { type: 'string' }, admin: { type: 'string' }, output: { type: 'string', short: 'o' } }, usage);
  const node = typeof values.node === 'string' ? values.node : undefined;
  const admin = typeof values.admin === 'string' ? values.admin : undefined;
  if (!node && !admin) throw usageError('name the node (--node NODE) of the running simulated cluster, or an agent admin URL (--admin http://HOST:15020)', usage);
  let r: { status: number; body: string };
  if (admin) {
    r = await httpGet(`${admin.replace(/\/$/, '')}/config_dump`, 5000);
  } else {
    const st = findRunningCluster(typeof values.cluster === 'string' ? values.cluster : undefined);
    const n = st.nodes.find((x) => x.name === node);
    if (!n) throw new MeshError('MESH_ERR_CLUSTER', `cluster ${st.clusterId} has no node "${node}"; nodes: ${st.nodes.map((x) => x.name).join(', ')}`);
    r = await unixGet(n.adminSocket, '/config_dump', 5000);
  }
  if (r.status !== 200) throw new MeshError('MESH_ERR_COMMAND', `the agent answered ${r.status} to /config_dump: ${r.body.slice(0, 200)}`);
  const dump = JSON.parse(r.body) as { node?: string; identities?: IdentityRow[] };
  const rows = dump.identities ?? [];
  if (values.output === 'json') process.stdout.write(`${JSON.stringify({ node: dump.node ?? node, identities: rows }, null, 2)}\n`);
  else process.stdout.write(`${formatIdentities(dump.node ?? node ?? '?', rows)}\n`);
  return 0;
}
