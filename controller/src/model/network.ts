// Converters for EndpointSlice (discovery.k8s.io/v1) and the Gateway API mesh routes (HTTPRoute,
// GRPCRoute with a Service parentRef). Only the fields routing needs are read and checked; the
// rest of a route (matches, filters) is carried through as data for later issues.

import { isIPv4 } from 'node:net';
import type { EndpointSlice, Route, RouteBackendRef, RouteParentRef } from './types.js';
import { DNS_LABEL, Invalid, isObj, name, obj, optStr, port, protocol, str, type Obj } from './fields.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function list(v: unknown, path: string, optional = true): unknown[] {
  if (v === undefined && optional) return [];
  if (!Array.isArray(v)) throw new Invalid(path, 'must be a list');
  return v;
}

export function parseEndpointSlice(o: Obj): EndpointSlice {
  const meta = obj(o.metadata, 'metadata');
  const labels = obj(meta.labels, 'metadata.labels', true);
  const addressType = o.addressType ?? 'IPv4';
  if (addressType !== 'IPv4') throw new Invalid('addressType', `only IPv4 is supported, got ${JSON.stringify(addressType)}`);
  const ports = list(o.ports, 'ports').map((p, i) => {
    const po = obj(p, `ports[${i}]`);
    const pname = optStr(po.name, `ports[${i}].name`);
    return { ...(pname ? { name: pname } : {}), port: port(po.port, `ports[${i}].port`), protocol: protocol(po.protocol, `ports[${i}].protocol`) };
  });
  const endpoints = list(o.endpoints, 'endpoints').map((e, i) => {
    const eo = obj(e, `endpoints[${i}]`);
    const addresses = list(eo.addresses, `endpoints[${i}].addresses`, false).map((a, j) => {
      if (typeof a !== 'string' || !isIPv4(a)) throw new Invalid(`endpoints[${i}].addresses[${j}]`, `${JSON.stringify(a)} is not an IPv4 address`);
      return a;
    });
    const cond = obj(eo.conditions, `endpoints[${i}].conditions`, true);
    const ready = cond.ready === undefined ? true : cond.ready === true;
    const nodeName = optStr(eo.nodeName, `endpoints[${i}].nodeName`);
    const ref = isObj(eo.targetRef) && eo.targetRef.kind === 'Pod' && typeof eo.targetRef.name === 'string' ? eo.targetRef.name : undefined;
    return { addresses, ready, ...(nodeName ? { nodeName } : {}), ...(ref ? { podName: ref } : {}) };
  });
  return {
    namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL),
    name: name(meta.name, 'metadata.name'),
    serviceName: name(labels[SERVICE_NAME_LABEL], `metadata.labels.${SERVICE_NAME_LABEL}`, DNS_LABEL),
    ports,
    endpoints,
  };
}

function parentRef(v: unknown, path: string): RouteParentRef {
  const p = obj(v, path);
  const kind = optStr(p.kind, `${path}.kind`) ?? 'Gateway';
  const group = p.group === undefined ? (kind === 'Service' ? '' : 'gateway.networking.k8s.io') : typeof p.group === 'string' ? p.group : '';
  const ns = optStr(p.namespace, `${path}.namespace`);
  return { group, kind, name: str(p.name, `${path}.name`), ...(ns ? { namespace: ns } : {}), ...(p.port !== undefined ? { port: port(p.port, `${path}.port`) } : {}) };
}

function backendRef(v: unknown, path: string): RouteBackendRef {
  const b = obj(v, path);
  const kind = b.kind ?? 'Service';
  if (kind !== 'Service') throw new Invalid(`${path}.kind`, `only Service backends are supported, got ${JSON.stringify(kind)}`);
  const w = b.weight ?? 1;
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 1_000_000) throw new Invalid(`${path}.weight`, 'must be an integer in 0..1000000');
  const ns = optStr(b.namespace, `${path}.namespace`);
  return { name: name(b.name, `${path}.name`, DNS_LABEL), ...(ns ? { namespace: ns } : {}), ...(b.port !== undefined ? { port: port(b.port, `${path}.port`) } : {}), weight: w };
}

export function parseRoute(kind: 'HTTPRoute' | 'GRPCRoute', o: Obj): Route {
  const meta = obj(o.metadata, 'metadata');
  const spec = obj(o.spec, 'spec');
  const parentRefs = list(spec.parentRefs, 'spec.parentRefs', false).map((p, i) => parentRef(p, `spec.parentRefs[${i}]`));
  if (parentRefs.length === 0) throw new Invalid('spec.parentRefs', 'must name at least one parent (a Service, for mesh routing)');
  const rules = list(spec.rules, 'spec.rules').map((r, i) => {
    const ro = obj(r, `spec.rules[${i}]`);
    return {
      matches: structuredClone(ro.matches ?? []),
      filters: structuredClone(ro.filters ?? []),
      backendRefs: list(ro.backendRefs, `spec.rules[${i}].backendRefs`).map((b, j) => backendRef(b, `spec.rules[${i}].backendRefs[${j}]`)),
      ...(ro.timeouts !== undefined ? { timeouts: structuredClone(ro.timeouts) } : {}),
    };
  });
  return { kind, namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL), name: name(meta.name, 'metadata.name'), parentRefs, rules };
}
