// Derives the config resources from cluster resources: enrollment (and why not) per pod, peers,
// services with their ready endpoints (from EndpointSlices when the cluster has them, else from the
// selector, as the endpoint-slice controller would; the selector and numeric target ports go along
// for AuthorizationPolicy Service targets; appProtocol and opaque ports for the HTTP proxy), routes
// and policies carried through. Pure.

import type { ClusterResources, Pod, Service } from '../model/index.js';
import { objectKey, spiffeId } from '../model/index.js';
import type { ConfigResource, EndpointCfg, EnrollmentReason, PeerCfg, ServiceCfg, WorkloadCfg } from './types.js';

export function enrollment(res: ClusterResources, pod: Pod): EnrollmentReason {
  const ns = res.namespaces.get(pod.namespace);
  if (!ns) return 'namespace-missing';
  if (!ns.meshEnabled) return 'namespace-not-meshed';
  if (pod.captureOptOut) return 'opted-out';
  if (!pod.podIP) return 'no-pod-ip';
  return 'enrolled';
}

function matches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

function targetPort(pod: Pod, tp: number | string): number | undefined {
  if (typeof tp === 'number') return tp;
  return pod.ports.find((p) => p.name === tp)?.containerPort;
}

/** Endpoints of one service port, sorted for stable output. */
function endpointsFor(res: ClusterResources, svc: Service, portIdx: number, podsByNs: ReadonlyMap<string, readonly Pod[]>, slicesBySvc: ReadonlyMap<string, readonly string[]>): EndpointCfg[] {
  const sp = svc.ports[portIdx]!;
  const out: EndpointCfg[] = [];
  const sliceKeys = slicesBySvc.get(objectKey(svc.namespace, svc.name));
  if (sliceKeys) {
    for (const k of sliceKeys) {
      const slice = res.endpointSlices.get(k)!;
      const p = slice.ports.find((x) => (sp.name ? x.name === sp.name : true)) ?? slice.ports[0];
      if (!p) continue;
      for (const e of slice.endpoints) {
        if (!e.ready) continue;
        for (const ip of e.addresses) out.push({ ip, port: p.port, node: e.nodeName ?? '', pod: e.podName ?? '' });
      }
    }
  } else {
    for (const pod of podsByNs.get(svc.namespace) ?? []) {
      if (!pod.podIP || !matches(svc.selector, pod.labels)) continue;
      const port = targetPort(pod, sp.targetPort);
      if (port !== undefined) out.push({ ip: pod.podIP, port, node: pod.nodeName, pod: pod.name });
    }
  }
  // EndpointSlices may list one address twice; an endpoint counts once (the native table agrees)
  const unique = new Map(out.map((e) => [`${e.ip}:${e.port}`, e]));
  return [...unique.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
}

/** Every config resource of the cluster; per-node selection happens in model.ts. */
export function deriveResources(res: ClusterResources, trustDomain: string): ConfigResource[] {
  const out: ConfigResource[] = [];
  const podsByNs = new Map<string, Pod[]>();
  for (const pod of res.pods.values()) {
    const key = objectKey(pod.namespace, pod.name);
    const reason = enrollment(res, pod);
    const identity = spiffeId(pod, trustDomain);
    const list = podsByNs.get(pod.namespace) ?? [];
    list.push(pod);
    podsByNs.set(pod.namespace, list);
    if (!pod.podIP) continue;
    const defaultPolicy = res.namespaces.get(pod.namespace)?.defaultInboundPolicy;
    const accessLog = res.namespaces.get(pod.namespace)?.accessLog === true;
    const traceSampling = res.namespaces.get(pod.namespace)?.traceSampling;
    const w: WorkloadCfg = {
      namespace: pod.namespace, name: pod.name, node: pod.nodeName, ip: pod.podIP, serviceAccount: pod.serviceAccount, identity, meshed: reason === 'enrolled', reason, labels: pod.labels,
      ...(defaultPolicy ? { defaultInboundPolicy: defaultPolicy } : {}),
      ...(accessLog ? { accessLog } : {}),
      ...(traceSampling !== undefined ? { traceSampling } : {}),
    };
    const p: PeerCfg = { namespace: pod.namespace, name: pod.name, ip: pod.podIP, node: pod.nodeName, identity, meshed: reason === 'enrolled' };
    out.push({ type: 'workload', key, value: w }, { type: 'peer', key, value: p });
  }
  const slicesBySvc = new Map<string, string[]>();
  for (const [k, s] of res.endpointSlices) {
    const sk = objectKey(s.namespace, s.serviceName);
    slicesBySvc.set(sk, [...(slicesBySvc.get(sk) ?? []), k]);
  }
  for (const svc of res.services.values()) {
    const opaque = svc.opaquePorts ?? res.namespaces.get(svc.namespace)?.opaquePorts ?? [];
    const value: ServiceCfg = {
      namespace: svc.namespace,
      name: svc.name,
      vip: svc.clusterIP ?? '',
      ports: svc.ports.map((p, i) => ({
        name: p.name ?? '', port: p.port, protocol: p.protocol, ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
        endpoints: endpointsFor(res, svc, i, podsByNs, slicesBySvc),
        ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
        opaque: opaque.includes(p.port),
      })),
      ...(Object.keys(svc.selector).length > 0 ? { selector: svc.selector } : {}),
    };
    out.push({ type: 'service', key: objectKey(svc.namespace, svc.name), value });
  }
  for (const [key, value] of res.routes) out.push({ type: 'route', key, value });
  for (const [key, value] of res.policies) out.push({ type: 'policy', key, value });
  return out;
}
