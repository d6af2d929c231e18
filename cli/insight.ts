// `nodemesh stat`, `tap`, `explain` and `dashboard`: thin clients of the controller's insight API
// (dashboard/api.ts computes every answer); here only flags, tables and the port-forward.

import net from 'node:net';
import path from 'node:path';
import { parseDuration } from '../common/duration.js';
import { MeshError } from '../common/errors.js';
import { findRunningCluster } from '../sim/index.js';
import { intFlag, parseFlags, usageError } from './args.js';
import { usageOf } from './commands.js';
import { getJson, streamLines, targetOf } from './insight-client.js';

const TARGET_FLAGS = { cluster: { type: 'string' }, controller: { type: 'string' }, token: { type: 'string' }, output: { type: 'string', short: 'o' } } as const;
const out = (s = ''): void => { process.stdout.write(`${s}\n`); };

interface StatRow { namespace: string; name: string; pods?: { meshed: number; total: number }; requests: number; successRate: number | null; rps: number; latencyMs: { p50: number | null; p95: number | null; p99: number | null }; tcp: { open: number; openedPerSec: number; readBytesPerSec: number; writeBytesPerSec: number } }

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
}

const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? `${v.toFixed(2)}ms` : `${Math.round(v)}ms`);
const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
const bytes = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}MB/s` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}kB/s` : `${v}B/s`);

export async function statCmd(argv: string[]): Promise<number> {
  const usage = usageOf(['stat']);
  const { values, positionals } = parseFlags(argv, { ...TARGET_FLAGS, namespace: { type: 'string', short: 'n' }, from: { type: 'string' }, window: { type: 'string' } }, usage, { max: 2 });
  const kind = positionals[0] ?? 'workload';
  if (!['workload', 'service', 'route', 'workloads', 'services', 'routes', 'po', 'svc'].includes(kind)) throw usageError(`unknown kind "${kind}": workload, service or route`, usage);
  const k = kind.startsWith('svc') || kind.startsWith('service') ? 'service' : kind.startsWith('route') ? 'route' : 'workload';
  const q = new URLSearchParams({ kind: k, window: String(values.window ?? '30s') });
  let name = positionals[1];
  let ns = typeof values.namespace === 'string' ? values.namespace : undefined;
  if (name?.includes('/')) { ns = name.slice(0, name.indexOf('/')); name = name.slice(name.indexOf('/') + 1); }
  if (ns) q.set('namespace', ns);
  if (name) q.set('name', k === 'workload' ? name : `${ns ? `${ns}/` : ''}${name}`);
  if (typeof values.from === 'string') q.set('from', values.from);
  const r = await getJson<{ windowMs: number; rows: StatRow[] }>(targetOf(values), `/api/stat?${q}`);
  if (values.output === 'json') { out(JSON.stringify(r, null, 2)); return 0; }
  if (r.rows.length === 0) { out(`No traffic or workloads found${ns ? ` in namespace ${ns}` : ''} (window ${r.windowMs / 1000}s).`); return 0; }
  const head = k === 'workload' ? ['NAMESPACE', 'NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN', 'READ', 'WRITE'] : ['NAMESPACE', 'NAME', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99'];
  out(table(head, r.rows.map((x) => [
    x.namespace, x.name, ...(k === 'workload' ? [`${x.pods?.meshed ?? 0}/${x.pods?.total ?? 0}`] : []), pct(x.successRate), x.rps.toFixed(1), ms(x.latencyMs.p50), ms(x.latencyMs.p95), ms(x.latencyMs.p99),
    ...(k === 'workload' ? [String(x.tcp.open), bytes(x.tcp.readBytesPerSec), bytes(x.tcp.writeBytesPerSec)] : []),
  ])));
  return 0;
}

function durationMs(v: string, flag: string, usage: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw usageError(`--${flag} must be like 10s, 2m or 1m30s, got "${v}"`, usage);
  return ms;
}

export async function tapCmd(argv: string[]): Promise<number> {
  const usage = usageOf(['tap']);
  const { values, positionals } = parseFlags(argv, { ...TARGET_FLAGS, method: { type: 'string' }, path: { type: 'string' }, 'max-rps': { type: 'string' }, count: { type: 'string' }, duration: { type: 'string' } }, usage, { min: 1, max: 1 });
  const target = positionals[0]!;
  if (!/^[a-z0-9.-]+(\/[a-z0-9.-]+)?$/.test(target)) throw usageError(`tap target must be NAMESPACE or NAMESPACE/WORKLOAD, got "${target}"`, usage);
  const count = intFlag(values, 'count', usage, { min: 1, max: 1_000_000 });
  const maxRps = intFlag(values, 'max-rps', usage, { min: 1, max: 10_000 });
  const q = new URLSearchParams({ target, ...(typeof values.method === 'string' ? { method: values.method } : {}), ...(typeof values.path === 'string' ? { path: values.path } : {}), ...(maxRps ? { max_rps: String(maxRps) } : {}) });
  let n = 0;
  let endReason = '';
  const json = values.output === 'json';
  const s = streamLines(targetOf(values), `/api/tap?${q}`, (v) => {
    if ('tap' in v) { if (!json) process.stderr.write(`tapping ${target} on ${(v.agents as string[]).join(', ') || 'no agent yet'} (Ctrl-C to stop)\n`); return true; }
    if ('end' in v) { endReason = String(v.end); return false; }
    n++;
    if (json) out(JSON.stringify(v));
    else {
      const g = v.grpcStatus === null || v.grpcStatus === undefined ? '' : ` grpc-status=${String(v.grpcStatus)}`;
      out(`${String(v.direction).padEnd(8)} ${String(v.srcWorkload || v.src)} → ${String(v.dstWorkload || v.dst)}  ${String(v.method)} ${String(v.authority)}${String(v.path)}  :status=${String(v.status)}${g}  ${Number(v.durationMs).toFixed(2)}ms  ${v.srcIdentity ? `src=${String(v.srcIdentity)} ` : ''}${v.dstIdentity ? `dst=${String(v.dstIdentity)}` : ''}${v.route ? ` route=${String(v.route)}` : ''}`);
    }
    return count === undefined || n < count;
  });
  const stop = (): void => s.stop();
  process.once('SIGINT', stop);
  const timer = typeof values.duration === 'string' ? setTimeout(stop, durationMs(values.duration, 'duration', usage)) : undefined;
  try { await s.done; } finally { process.off('SIGINT', stop); if (timer) clearTimeout(timer); }
  if (endReason && endReason !== 'client closed') { process.stderr.write(`tap ended: ${endReason}\n`); return endReason.startsWith('MESH_ERR') ? 1 : 0; }
  return 0;
}

interface Check { ok: boolean; what: string; detail: string }
interface Hop { endpoint: string; pod: string; node: string; path: string; detail: string; authorization: { allow: boolean; code: string; policy: string; transport: string } }

export async function explainCmd(argv: string[]): Promise<number> {
  const usage = usageOf(['explain']);
  const { values, positionals } = parseFlags(argv, { ...TARGET_FLAGS, method: { type: 'string' }, path: { type: 'string' }, header: { type: 'string', multiple: true } }, usage, { min: 1, max: 2 });
  const [pod, dst] = positionals as [string, string | undefined];
  if (!pod.includes('/')) throw usageError(`give the pod as NAMESPACE/NAME, got "${pod}"`, usage);
  const q = new URLSearchParams(dst ? { src: pod, dst } : { pod });
  if (typeof values.method === 'string') q.set('method', values.method);
  if (typeof values.path === 'string') q.set('path', values.path);
  for (const h of (values.header as unknown as string[] | undefined) ?? []) q.append('header', h);
  const r = await getJson<Record<string, unknown>>(targetOf(values), `/api/explain?${q}`);
  if (values.output === 'json') { out(JSON.stringify(r, null, 2)); return 0; }
  if (!dst) {
    out(`${pod} on ${String(r.node)} (${String(r.ip) || 'no IP'}): ${String(r.summary)}`);
    for (const c of r.checks as Check[]) out(`  ${c.ok ? '✓' : '✗'} ${c.what.padEnd(12)} ${c.detail}`);
    const pol = r.policies as string[];
    if (pol.length) out(`  inbound authorization, in order: ${pol.join(', ')}`);
    return r.meshed ? 0 : 1;
  }
  out(`${pod} → ${String(r.dst)}: ${String(r.summary)}`);
  if (r.service) out(`  Service  ${String(r.service)}`);
  const rt = r.route as { name: string; kind: string; rule: number; backends: { service: string; weight: number }[]; status?: number } | undefined;
  if (rt) out(`  route    ${rt.name} (${rt.kind}${rt.rule >= 0 ? `, rule ${rt.rule}` : ''})${rt.backends.length ? ` → ${rt.backends.map((b) => `${b.service} weight ${b.weight}`).join(', ')}` : ''}${rt.status ? `: answered ${rt.status}` : ''}`);
  for (const h of r.hops as Hop[]) {
    out(`  ${h.authorization.allow ? '✓' : '✗'} ${h.endpoint} ${h.pod ? `(${h.pod} on ${h.node})` : ''} via ${h.path}: ${h.detail}`);
    out(`      authorization (${h.authorization.transport}): ${h.authorization.allow ? 'allowed' : `denied, ${h.authorization.code}`}${h.authorization.policy ? ` by ${h.authorization.policy}` : ''}`);
  }
  return (r.hops as Hop[]).some((h) => h.authorization.allow) ? 0 : 1;
}

/** A port-forward from 127.0.0.1:PORT on the host to the simulated controller's UI socket. */
export async function startDashboardForward(socketPath: string, port: number): Promise<net.Server> {
  const server = net.createServer((c) => {
    const u = net.connect(socketPath);
    c.pipe(u).pipe(c);
    const end = (): void => { c.destroy(); u.destroy(); };
    c.on('error', end); u.on('error', end); c.on('close', end); u.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new MeshError('MESH_ERR_LISTEN', `cannot listen on 127.0.0.1:${port}: ${e.message}; pass --port`)));
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

export async function dashboardCmd(argv: string[]): Promise<number> {
  const usage = usageOf(['dashboard']);
  const { values } = parseFlags(argv, { cluster: { type: 'string' }, port: { type: 'string' } }, usage);
  const port = intFlag(values, 'port', usage, { min: 0, max: 65535 }) ?? 8084;
  const st = findRunningCluster(typeof values.cluster === 'string' ? values.cluster : undefined);
  const server = await startDashboardForward(path.join(st.runDir, 'controller', 'ui.sock'), port);
  out(`nodemesh dashboard: http://127.0.0.1:${(server.address() as net.AddressInfo).port}/ (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); });
  server.close();
  return 0;
}
