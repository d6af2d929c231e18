// The protobuf boundary: domain ConfigUpdate ⇄ wire messages (as @grpc/proto-loader decodes them,
// camelCase fields). fromWire validates every field and throws MESH_ERR_CONFIG with a field path,
// so a malformed update is NACKed by the agent and never reaches the data path.

import { X509Certificate } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { MeshError } from '../../../common/errors.js';
import type { ConfigResource, ConfigUpdate, DefaultInboundPolicy, EndpointCfg, EnrollmentReason, MeshCfg, ResourceRef, ResourceType } from '../views/index.js';
import { DEFAULT_INBOUND_POLICIES, MESH_KEY, RESOURCE_TYPES } from '../views/index.js';

type W = Record<string, unknown>;
const REASONS: readonly EnrollmentReason[] = ['enrolled', 'namespace-not-meshed', 'namespace-missing', 'opted-out', 'no-pod-ip'];

function bad(path: string, msg: string): never {
  throw new MeshError('MESH_ERR_CONFIG', `config update rejected: ${path}: ${msg}`);
}
const s = (v: unknown, p: string, allowEmpty = false): string => (typeof v === 'string' && (allowEmpty || v !== '') ? v : bad(p, 'must be a non-empty string'));
const ip = (v: unknown, p: string): string => (typeof v === 'string' && isIPv4(v) ? v : bad(p, `${JSON.stringify(v)} is not an IPv4 address`));
const port = (v: unknown, p: string): number => (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 ? v : bad(p, `${JSON.stringify(v)} is not a port`));
const o = (v: unknown, p: string): W => (typeof v === 'object' && v !== null ? (v as W) : bad(p, 'missing'));
/** A string map (labels, selectors): absent → empty. */
function strMap(v: unknown, p: string): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o(v ?? {}, p))) out[k] = s(x, `${p}.${k}`, true);
  return Object.freeze(out);
}

export function toWire(u: ConfigUpdate, sentAtMs = Date.now()): W {
  return {
    version: u.version,
    full: u.full,
    sentAtMs,
    removes: u.removes.map((r) => ({ type: r.type, key: r.key })),
    upserts: u.upserts.map((r): W => {
      switch (r.type) {
        case 'workload': {
          const { traceSampling, ...w } = r.value;
          return { key: r.key, workload: { ...w, labels: { ...w.labels }, ...(traceSampling !== undefined ? { traceSampling: String(traceSampling) } : {}) } };
        }
        case 'peer': return { key: r.key, peer: r.value };
        case 'service': return { key: r.key, service: r.value };
        case 'route': return { key: r.key, route: { kind: r.value.kind, namespace: r.value.namespace, name: r.value.name, json: JSON.stringify(r.value) } };
        case 'policy': return { key: r.key, policy: { kind: r.value.kind, namespace: r.value.namespace, name: r.value.name, json: JSON.stringify(r.value) } };
        case 'mesh': return { key: r.key, mesh: { trustDomain: r.value.trustDomain, trustAnchors: [...r.value.trustAnchors], defaultInboundPolicy: r.value.defaultInboundPolicy, ...(r.value.traceCollector ? { traceCollector: r.value.traceCollector } : {}) } };
      }
    }),
  };
}

function endpoint(v: unknown, p: string): EndpointCfg {
  const e = o(v, p);
  return { ip: ip(e.ip, `${p}.ip`), port: port(e.port, `${p}.port`), node: s(e.node, `${p}.node`, true), pod: s(e.pod, `${p}.pod`, true) };
}

const TRUST_DOMAIN = /^[a-z0-9]([a-z0-9._-]{0,253}[a-z0-9])?$/;
const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?$/;

/** "host:port" with a DNS name or IPv4 address and a port 1..65535. */
export function isHostPort(v: string): boolean {
  const m = /^([a-z0-9]([a-z0-9.-]{0,252}[a-z0-9])?):([0-9]{1,5})$/i.exec(v);
  return m !== null && Number(m[3]) >= 1 && Number(m[3]) <= 65535;
}

/** The mesh settings: a trust domain, at least one self-signed CA anchor, a known default policy. */
function mesh(v: unknown, key: string, p: string): MeshCfg {
  if (key !== MESH_KEY) bad(`${p}.key`, `the mesh resource's key must be "${MESH_KEY}", got ${JSON.stringify(key)}`);
  const m = o(v, `${p}.mesh`);
  const trustDomain = s(m.trustDomain, `${p}.mesh.trustDomain`);
  if (!TRUST_DOMAIN.test(trustDomain)) bad(`${p}.mesh.trustDomain`, `${JSON.stringify(trustDomain)} is not a trust domain (lowercase letters, digits, '.', '-', '_')`);
  const anchors = Array.isArray(m.trustAnchors) ? m.trustAnchors : [];
  if (anchors.length === 0) bad(`${p}.mesh.trustAnchors`, 'must hold at least one PEM certificate');
  const trustAnchors = anchors.map((a, i) => {
    const ap = `${p}.mesh.trustAnchors[${i}]`;
    if (typeof a !== 'string' || !PEM_CERT.test(a.trim() + '\n')) bad(ap, 'must be one PEM "CERTIFICATE" block');
    let c: X509Certificate;
    try { c = new X509Certificate(a); } catch { return bad(ap, 'does not parse as an X.509 certificate'); }
    const subject = c.subject ? c.subject.replace(/\n/g, ', ') : 'a certificate with an empty subject';
    if (!c.ca) bad(ap, `${subject} is not a CA certificate`);
    if (!c.checkIssued(c) || !c.verify(c.publicKey)) bad(ap, `${subject} is not self-signed (anchors are roots)`);
    return a;
  });
  const policy = m.defaultInboundPolicy as DefaultInboundPolicy;
  if (!DEFAULT_INBOUND_POLICIES.includes(policy)) bad(`${p}.mesh.defaultInboundPolicy`, `unknown policy ${JSON.stringify(m.defaultInboundPolicy)} (one of ${DEFAULT_INBOUND_POLICIES.join(', ')})`);
  const collector = s(m.traceCollector ?? '', `${p}.mesh.traceCollector`, true);
  if (collector !== '' && !isHostPort(collector)) bad(`${p}.mesh.traceCollector`, `${JSON.stringify(collector)} is not host:port (an OTLP/HTTP collector, e.g. 10.0.0.5:4318)`);
  return Object.freeze({ trustDomain, trustAnchors: Object.freeze(trustAnchors), defaultInboundPolicy: policy, ...(collector !== '' ? { traceCollector: collector } : {}) });
}

/** The wire's decimal sampling percentage ("" absent) as the view's number. */
function traceSamplingOf(v: unknown, p: string): { traceSampling?: number } {
  const t = s(v ?? '', p, true);
  if (t === '') return {};
  const n = Number(t);
  if (!(n >= 0 && n <= 100)) bad(p, `must be a percentage from 0 to 100, got ${JSON.stringify(t)}`);
  return { traceSampling: n };
}

function resource(v: unknown, p: string): ConfigResource {
  const r = o(v, p);
  const key = s(r.key, `${p}.key`);
  switch (r.kind) {
    case 'workload': {
      const w = o(r.workload, `${p}.workload`);
      const reason = w.reason as EnrollmentReason;
      if (!REASONS.includes(reason)) bad(`${p}.workload.reason`, `unknown reason ${JSON.stringify(w.reason)}`);
      const labels = o(w.labels ?? {}, `${p}.workload.labels`) as Record<string, string>;
      const policy = s(w.defaultInboundPolicy ?? '', `${p}.workload.defaultInboundPolicy`, true);
      if (policy !== '' && !DEFAULT_INBOUND_POLICIES.includes(policy as DefaultInboundPolicy)) bad(`${p}.workload.defaultInboundPolicy`, `unknown policy ${JSON.stringify(policy)} (one of ${DEFAULT_INBOUND_POLICIES.join(', ')})`);
      return { type: 'workload', key, value: {
        namespace: s(w.namespace, `${p}.workload.namespace`), name: s(w.name, `${p}.workload.name`), node: s(w.node ?? '', `${p}.workload.node`, true),
        ip: ip(w.ip, `${p}.workload.ip`), serviceAccount: s(w.serviceAccount, `${p}.workload.serviceAccount`), identity: s(w.identity, `${p}.workload.identity`),
        meshed: w.meshed === true, reason, labels: Object.freeze({ ...labels }),
        ...(policy !== '' ? { defaultInboundPolicy: policy as DefaultInboundPolicy } : {}),
        ...(w.accessLog === true ? { accessLog: true } : {}),
        ...traceSamplingOf(w.traceSampling, `${p}.workload.traceSampling`),
      } };
    }
    case 'peer': {
      const w = o(r.peer, `${p}.peer`);
      return { type: 'peer', key, value: { namespace: s(w.namespace, `${p}.peer.namespace`), name: s(w.name, `${p}.peer.name`), ip: ip(w.ip, `${p}.peer.ip`), node: s(w.node, `${p}.peer.node`, true), identity: s(w.identity, `${p}.peer.identity`), meshed: w.meshed === true } };
    }
    case 'service': {
      const v2 = o(r.service, `${p}.service`);
      const vip = s(v2.vip, `${p}.service.vip`, true);
      if (vip !== '' && !isIPv4(vip)) bad(`${p}.service.vip`, `${JSON.stringify(vip)} is not an IPv4 address`);
      const ports = (Array.isArray(v2.ports) ? v2.ports : []).map((x, i) => {
        const sp = o(x, `${p}.service.ports[${i}]`);
        const proto = sp.protocol === 'UDP' ? 'UDP' : 'TCP';
        const target = sp.targetPort === undefined || sp.targetPort === 0 ? undefined : port(sp.targetPort, `${p}.service.ports[${i}].targetPort`);
        return {
          name: s(sp.name, '', true), port: port(sp.port, `${p}.service.ports[${i}].port`), protocol: proto as 'TCP' | 'UDP', ...(target !== undefined ? { targetPort: target } : {}),
          endpoints: (Array.isArray(sp.endpoints) ? sp.endpoints : []).map((e, j) => endpoint(e, `${p}.service.ports[${i}].endpoints[${j}]`)),
          ...(typeof sp.appProtocol === 'string' && sp.appProtocol !== '' ? { appProtocol: sp.appProtocol } : {}),
          opaque: sp.opaque === true,
        };
      });
      const selector = strMap(v2.selector, `${p}.service.selector`);
      return { type: 'service', key, value: {
        namespace: s(v2.namespace, `${p}.service.namespace`), name: s(v2.name, `${p}.service.name`), vip, ports,
        ...(Object.keys(selector).length > 0 ? { selector } : {}),
      } };
    }
    case 'route':
    case 'policy': {
      const d = o(r[r.kind], `${p}.${r.kind}`);
      let value: unknown;
      try { value = JSON.parse(s(d.json, `${p}.${r.kind}.json`)); } catch (e) { if (e instanceof MeshError) throw e; bad(`${p}.${r.kind}.json`, 'is not JSON'); }
      return r.kind === 'route' ? { type: 'route', key, value: value as never } : { type: 'policy', key, value: value as never };
    }
    case 'mesh':
      return { type: 'mesh', key, value: mesh(r.mesh, key, p) };
    default:
      return bad(`${p}`, `unknown resource kind ${JSON.stringify(r.kind)}`);
  }
}

export function fromWire(msg: unknown): ConfigUpdate {
  const m = o(msg, 'update');
  const version = m.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) bad('version', 'must be a non-negative integer');
  const removes: ResourceRef[] = (Array.isArray(m.removes) ? m.removes : []).map((x, i) => {
    const r = o(x, `removes[${i}]`);
    if (!RESOURCE_TYPES.includes(r.type as ResourceType)) bad(`removes[${i}].type`, `unknown type ${JSON.stringify(r.type)}`);
    return { type: r.type as ResourceType, key: s(r.key, `removes[${i}].key`) };
  });
  const upserts = (Array.isArray(m.upserts) ? m.upserts : []).map((x, i) => resource(x, `upserts[${i}]`));
  return { version, full: m.full === true, upserts, removes };
}
