// Converter for EndpointSlice (discovery.k8s.io/v1), reduced to what routing needs. The Gateway
// API routes have their own parser (routes.ts).

import { isIPv4 } from 'node:net';
import type { EndpointSlice } from './types.js';
import { DNS_LABEL, Invalid, isObj, name, obj, optStr, port, protocol, type Obj } from './fields.js';

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
