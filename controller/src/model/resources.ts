// Builds ClusterResources (the readonly maps every consumer reads) from converted objects. Both
// sources feed it, so the keys are the same whatever the origin: name for Namespace,
// namespace/name for namespaced kinds, kind/namespace/name for routes and policies.

import type { ClusterResources, EndpointSlice, Namespace, Pod, Policy, Route, Service, ServiceAccount } from './types.js';
import { objectKey } from './types.js';
import type { ParsedObject } from './convert.js';

interface MutableResources {
  namespaces: Map<string, Namespace>;
  serviceAccounts: Map<string, ServiceAccount>;
  pods: Map<string, Pod>;
  services: Map<string, Service>;
  endpointSlices: Map<string, EndpointSlice>;
  routes: Map<string, Route>;
  policies: Map<string, Policy>;
}

export function emptyResources(): MutableResources {
  return { namespaces: new Map(), serviceAccounts: new Map(), pods: new Map(), services: new Map(), endpointSlices: new Map(), routes: new Map(), policies: new Map() };
}

export function addObject(r: MutableResources, o: ParsedObject): void {
  switch (o.kind) {
    case 'Namespace': r.namespaces.set(o.value.name, o.value); break;
    case 'ServiceAccount': r.serviceAccounts.set(objectKey(o.value.namespace, o.value.name), o.value); break;
    case 'Pod': r.pods.set(objectKey(o.value.namespace, o.value.name), o.value); break;
    case 'Service': r.services.set(objectKey(o.value.namespace, o.value.name), o.value); break;
    case 'EndpointSlice': r.endpointSlices.set(objectKey(o.value.namespace, o.value.name), o.value); break;
    case 'Route': {
      // `order` is the route's position in its source (the order both sources add objects in)
      const key = `${o.value.kind}/${objectKey(o.value.namespace, o.value.name)}`;
      const order = r.routes.get(key)?.order ?? r.routes.size;
      r.routes.set(key, o.value.order === order ? o.value : Object.freeze({ ...o.value, order }));
      break;
    }
    case 'Policy': r.policies.set(`${o.value.kind}/${objectKey(o.value.namespace, o.value.name)}`, o.value); break;
  }
}

export function resourcesFrom(objects: Iterable<ParsedObject>): ClusterResources {
  const r = emptyResources();
  for (const o of objects) addObject(r, o);
  return r;
}
