// Compiles the node view's AuthorizationPolicy and MeshTLSPolicy objects into TableAuthz: per
// enrolled pod, its mTLS mode (narrowest MeshTLSPolicy scope wins), the policies that target it
// (Service ports mapped to its target ports) and its default inbound policy. Pure, deterministic.

import { MeshError } from '../../../common/errors.js';
import type { Labels } from '../../../controller/src/model/index.js';
import type { ServiceCfg } from '../../../controller/src/views/index.js';
import type { NodeView, Policy, Workload } from '../state/index.js';
import { MESH_ROOT_NAMESPACE, enrolledByIp } from '../state/index.js';
import { parseCidr, parseIpv4 } from './evaluate.js';
import { workloadNeedsHttp } from './http.js';
import type { AuthzAction, TableAuthz, TableAuthzHttp, TableAuthzPolicy, TableAuthzRule, TableAuthzSource, TableAuthzWorkload, TlsMode } from './types.js';

type Obj = Record<string, unknown>;

interface TlsSpec { readonly name: string; readonly namespace: string; readonly selector?: Labels; readonly mode: TlsMode; readonly portModes: readonly { port: number; mode: TlsMode }[] }

interface Operation { readonly ports?: readonly number[]; readonly http: TableAuthzHttp | null }
interface AuthzSpec {
  readonly name: string;
  readonly namespace: string;
  readonly targetRef?: { readonly kind: string; readonly name: string };
  readonly selector?: Labels;
  readonly action: AuthzAction;
  readonly rules: readonly { readonly from: readonly TableAuthzSource[] | null; readonly to: readonly Operation[] | null }[];
}

/**
 * Which policies apply to a workload (Istio's scoping, with Gateway API targets):
 * - a policy of the pod's namespace: targetRef Namespace (its own), targetRef Service (pods the
 *   Service selects, or its endpoints when it has no selector), selector.matchLabels, or neither
 *   (the whole namespace); targetRef HTTPRoute is L7 and left to the HTTP proxy (not compiled);
 * - a policy of nodemesh-system with neither targetRef nor selector: every pod of the mesh.
 * A Service target that does not exist applies to no pod. Both targetRef and selector set (the
 * CRD forbids it): targetRef decides.
 */
export function compileAuthz(view: NodeView): TableAuthz {
  const tls: TlsSpec[] = [];
  const authz: AuthzSpec[] = [];
  for (const p of view.policies) {
    if (p.kind === 'MeshTLSPolicy') tls.push(readTls(p));
    else if (p.kind === 'AuthorizationPolicy') authz.push(readAuthz(p));
  }
  const compiled = new Map<string, { policy: TableAuthzPolicy; users: number[] }>();
  const workloads: { w: TableAuthzWorkload; keys: string[] }[] = [];
  const enrolled = [...enrolledByIp(view).values()].sort((a, b) => parseIpv4(a.ip!)! - parseIpv4(b.ip!)!);
  for (const w of enrolled) {
    const keys: string[] = [];
    for (const a of authz) {
      const svc = applies(a, w, view);
      if (svc === false) continue;
      const policy = compilePolicy(a, w, svc);
      const key = JSON.stringify(policy);
      if (!compiled.has(key)) compiled.set(key, { policy, users: [] });
      if (!keys.includes(key)) keys.push(key);
    }
    workloads.push({ w: { ip: w.ip!, ...tlsMode(w, tls), defaultPolicy: w.defaultInboundPolicy, policies: [] }, keys });
  }
  const order = [...compiled.keys()].sort((a, b) => {
    const na = compiled.get(a)!.policy.name;
    const nb = compiled.get(b)!.policy.name;
    return na < nb ? -1 : na > nb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  });
  const index = new Map(order.map((k, i) => [k, i]));
  const policies = order.map((k) => compiled.get(k)!.policy);
  return {
    trustDomain: view.trustDomain,
    workloads: workloads.map(({ w, keys }) => {
      const idx = keys.map((k) => index.get(k)!).sort((a, b) => a - b);
      return { ...w, policies: idx, needsHttp: workloadNeedsHttp({ policies }, idx) };
    }),
    policies,
  };
}

function matchesLabels(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** false: the policy does not apply; null: it does (ports are pod ports); a Service: through it. */
function applies(a: AuthzSpec, w: Workload, view: NodeView): false | null | ServiceCfg {
  if (a.namespace !== w.namespace) return a.namespace === MESH_ROOT_NAMESPACE && !a.targetRef && !a.selector ? null : false;
  if (a.targetRef) {
    switch (a.targetRef.kind) {
      case 'Namespace': return a.targetRef.name === w.namespace ? null : false;
      case 'Service': {
        const svc = view.targetServices.get(`${a.namespace}/${a.targetRef.name}`);
        if (!svc) return false;
        const selected = svc.selector ? matchesLabels(svc.selector, w.labels) : svc.ports.some((p) => p.endpoints.some((e) => e.ip === w.ip));
        return selected ? svc : false;
      }
      default: return false; // HTTPRoute: enforced by the HTTP proxy (L7), not at L4
    }
  }
  return a.selector ? (matchesLabels(a.selector, w.labels) ? null : false) : null;
}

function compilePolicy(a: AuthzSpec, w: Workload, svc: ServiceCfg | null): TableAuthzPolicy {
  const rules: TableAuthzRule[] = [];
  for (const r of a.rules) {
    if (r.to === null) {
      rules.push({ from: r.from, ports: null, l7: false, http: null });
      continue;
    }
    for (const op of r.to) rules.push({ from: r.from, ports: op.ports ? podPorts(op.ports, w, svc, a.action) : null, l7: op.http !== null, http: op.http });
  }
  return { name: `${a.namespace}/${a.name}`, action: a.action, rules };
}

/**
 * Rule ports as pod ports. Through a Service target, a port of the Service means its target port
 * on this pod (the pod's endpoint port, and the numeric targetPort); any other number is a pod
 * port. A named target port this pod has no endpoint for (not ready) cannot be resolved: an ALLOW
 * drops it (allows less), a DENY matches every port instead (denies more).
 */
function podPorts(ports: readonly number[], w: Workload, svc: ServiceCfg | null, action: AuthzAction): number[] | null {
  const out = new Set<number>();
  for (const port of ports) {
    const sps = svc ? svc.ports.filter((sp) => sp.port === port) : [];
    if (sps.length === 0) {
      out.add(port);
      continue;
    }
    for (const sp of sps.filter((x) => x.protocol === 'TCP')) {
      const found = [...sp.endpoints.filter((e) => e.ip === w.ip).map((e) => e.port), ...(sp.targetPort !== undefined ? [sp.targetPort] : [])];
      if (found.length === 0 && action === 'DENY') return null;
      for (const f of found) out.add(f);
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** The narrowest MeshTLSPolicy scope wins: pod selector, then namespace, then mesh-wide; the first by name within one. */
function tlsMode(w: Workload, tls: readonly TlsSpec[]): Pick<TableAuthzWorkload, 'mode' | 'modePolicy' | 'portModes'> {
  const pick = tls.find((p) => p.namespace === w.namespace && p.selector && matchesLabels(p.selector, w.labels))
    ?? tls.find((p) => p.namespace === w.namespace && !p.selector)
    ?? tls.find((p) => p.namespace === MESH_ROOT_NAMESPACE && !p.selector);
  if (!pick) return { mode: 'PERMISSIVE', modePolicy: '', portModes: [] };
  return { mode: pick.mode, modePolicy: `${pick.namespace}/${pick.name}`, portModes: pick.portModes };
}

// === reading specs (validated against the CRD by the controller; checked again so that a skewed
// controller is NACKed with a field path instead of compiling into a wrong table) ===

class Reader {
  constructor(readonly what: string) {}

  bad(path: string, msg: string): never {
    throw new MeshError('MESH_ERR_CONFIG', `${this.what}: ${path}: ${msg}`);
  }

  obj(v: unknown, path: string): Obj {
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : this.bad(path, 'must be a mapping');
  }

  list(v: unknown, path: string): unknown[] {
    return Array.isArray(v) ? v : this.bad(path, 'must be a list');
  }

  str(v: unknown, path: string): string {
    return typeof v === 'string' && v !== '' ? v : this.bad(path, 'must be a non-empty string');
  }

  strs(v: unknown, path: string): string[] {
    return this.list(v, path).map((x, i) => this.str(x, `${path}[${i}]`));
  }

  port(v: unknown, path: string): number {
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 ? v : this.bad(path, `${JSON.stringify(v)} is not a port in 1..65535`);
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
    return allowed.includes(v as T) ? (v as T) : this.bad(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }

  /** selector.matchLabels; an empty one selects nothing narrower than the namespace → undefined */
  selector(v: unknown, path: string): Labels | undefined {
    if (v === undefined) return undefined;
    const m = this.obj(this.obj(v, path).matchLabels, `${path}.matchLabels`);
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(m)) out[k] = typeof x === 'string' ? x : this.bad(`${path}.matchLabels.${k}`, 'must be a string');
    return Object.keys(out).length > 0 ? out : undefined;
  }
}

const MODES: readonly TlsMode[] = ['STRICT', 'PERMISSIVE', 'DISABLE'];
const ACTIONS: readonly AuthzAction[] = ['ALLOW', 'DENY', 'AUDIT'];

function readTls(p: Policy): TlsSpec {
  const r = new Reader(`MeshTLSPolicy ${p.namespace}/${p.name}`);
  const spec = r.obj(p.spec, 'spec');
  const selector = r.selector(spec.selector, 'spec.selector');
  const seen = new Set<number>();
  const portModes: { port: number; mode: TlsMode }[] = [];
  (spec.portModes === undefined ? [] : r.list(spec.portModes, 'spec.portModes')).forEach((x, i) => {
    const pm = r.obj(x, `spec.portModes[${i}]`);
    const port = r.port(pm.port, `spec.portModes[${i}].port`);
    const mode = r.oneOf(pm.mode, `spec.portModes[${i}].mode`, MODES);
    if (!seen.has(port)) portModes.push({ port, mode });
    seen.add(port);
  });
  portModes.sort((a, b) => a.port - b.port);
  return { name: p.name, namespace: p.namespace, ...(selector ? { selector } : {}), mode: r.oneOf(spec.mode, 'spec.mode', MODES), portModes };
}

function readAuthz(p: Policy): AuthzSpec {
  const r = new Reader(`AuthorizationPolicy ${p.namespace}/${p.name}`);
  const spec = r.obj(p.spec, 'spec');
  let targetRef: AuthzSpec['targetRef'];
  if (spec.targetRef !== undefined) {
    const t = r.obj(spec.targetRef, 'spec.targetRef');
    targetRef = { kind: r.oneOf(t.kind, 'spec.targetRef.kind', ['Service', 'Namespace', 'HTTPRoute']), name: r.str(t.name, 'spec.targetRef.name') };
  }
  const selector = r.selector(spec.selector, 'spec.selector');
  const action = spec.action === undefined ? 'ALLOW' : r.oneOf(spec.action, 'spec.action', ACTIONS);
  const rules = (spec.rules === undefined ? [] : r.list(spec.rules, 'spec.rules')).map((x, i) => {
    const rp = `spec.rules[${i}]`;
    const rule = r.obj(x, rp);
    const from = rule.from === undefined ? null : r.list(rule.from, `${rp}.from`).map((f, j) => source(r, f, `${rp}.from[${j}]`));
    const to = rule.to === undefined ? null : r.list(rule.to, `${rp}.to`).map((o, j): Operation => {
      const op = r.obj(o, `${rp}.to[${j}]`);
      const ports = op.ports === undefined ? undefined : r.list(op.ports, `${rp}.to[${j}].ports`).map((v, k) => r.port(v, `${rp}.to[${j}].ports[${k}]`));
      return { ...(ports ? { ports } : {}), http: operationHttp(r, op, `${rp}.to[${j}]`) };
    });
    return { from, to };
  });
  return { name: p.name, namespace: p.namespace, ...(targetRef ? { targetRef } : {}), ...(selector ? { selector } : {}), action, rules };
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** "*", or a value with at most one '*', as its first or its last character. */
function starPattern(r: Reader, v: unknown, path: string): string {
  const s = r.str(v, path);
  const inner = s.length > 1 && s.startsWith('*') && s.endsWith('*');
  if (s !== '*' && (inner || s.slice(1, -1).includes('*'))) r.bad(path, `${JSON.stringify(s)}: '*' may only be the whole value, its first or its last character`);
  return s;
}

/** The HTTP fields of an operation (null: none, the operation is L4); hosts and header names lowercased. */
function operationHttp(r: Reader, op: Obj, path: string): TableAuthzHttp | null {
  const out: { -readonly [K in keyof TableAuthzHttp]: TableAuthzHttp[K] } = {};
  for (const k of ['methods', 'notMethods'] as const) {
    if (op[k] !== undefined) out[k] = r.list(op[k], `${path}.${k}`).map((m, i) => r.oneOf(m, `${path}.${k}[${i}]`, METHODS));
  }
  for (const k of ['paths', 'notPaths'] as const) {
    if (op[k] === undefined) continue;
    out[k] = r.list(op[k], `${path}.${k}`).map((x, i) => {
      const p = starPattern(r, x, `${path}.${k}[${i}]`);
      return p.startsWith('/') || p.startsWith('*') ? p : r.bad(`${path}.${k}[${i}]`, `${JSON.stringify(p)} must start with '/' or '*'`);
    });
  }
  for (const k of ['hosts', 'notHosts'] as const) {
    if (op[k] !== undefined) out[k] = r.list(op[k], `${path}.${k}`).map((x, i) => starPattern(r, x, `${path}.${k}[${i}]`).toLowerCase());
  }
  if (op.headers !== undefined) {
    const hp = `${path}.headers`;
    const byName = new Map<string, string[]>();
    for (const [name, values] of Object.entries(r.obj(op.headers, hp))) {
      if (!TOKEN.test(name)) r.bad(`${hp}.${name}`, 'is not an HTTP header name');
      const lower = name.toLowerCase();
      if (byName.has(lower)) r.bad(`${hp}.${name}`, `is listed twice (header names are case-insensitive)`);
      const vs = r.list(values, `${hp}.${name}`).map((x, i) => starPattern(r, x, `${hp}.${name}[${i}]`));
      if (vs.length === 0) r.bad(`${hp}.${name}`, 'must list at least one value');
      byName.set(lower, vs);
    }
    if (byName.size === 0) r.bad(hp, 'must name at least one header');
    out.headers = [...byName.keys()].sort().map((name) => ({ name, values: byName.get(name)! }));
  }
  return Object.keys(out).length > 0 ? out : null;
}

function source(r: Reader, v: unknown, path: string): TableAuthzSource {
  const f = r.obj(v, path);
  const out: { identities?: string[]; namespaces?: string[]; ipBlocks?: string[] } = {};
  if (f.identities !== undefined) out.identities = r.strs(f.identities, `${path}.identities`);
  if (f.namespaces !== undefined) out.namespaces = r.strs(f.namespaces, `${path}.namespaces`);
  if (f.ipBlocks !== undefined) {
    out.ipBlocks = r.strs(f.ipBlocks, `${path}.ipBlocks`);
    out.ipBlocks.forEach((c, k) => { if (!parseCidr(c)) r.bad(`${path}.ipBlocks[${k}]`, `${JSON.stringify(c)} is not an IPv4 CIDR`); });
  }
  return out;
}
