// Domain types of the cluster as the agent sees it: readonly, already validated, free of YAML.
// Produced by parse.ts from Kubernetes-style manifests; consumed by state/ and the simulator.
// Wire shapes (YAML objects) never travel past this folder.

import type { Route } from './route-types.js';

export const MESH_LABEL = 'nodemesh.io/mesh';
export const CAPTURE_ANNOTATION = 'nodemesh.io/capture';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
/** namespace annotation: the default inbound policy of the namespace's workloads (overrides the mesh's) */
export const DEFAULT_INBOUND_POLICY_ANNOTATION = 'nodemesh.io/default-inbound-policy';
/** Service or namespace annotation: ports ("3306,5432", ranges "4000-4100") proxied as opaque TCP, no protocol detection */
export const OPAQUE_PORTS_ANNOTATION = 'nodemesh.io/opaque-ports';
/** namespace annotation: "enabled" writes one JSON line per HTTP request of its pods (both directions) */
export const ACCESS_LOG_ANNOTATION = 'nodemesh.io/access-log';
/** namespace annotation: the percentage (0–100) of new traces its pods' requests start; absent: DEFAULT_TRACE_SAMPLING */
export const TRACE_SAMPLING_ANNOTATION = 'nodemesh.io/trace-sampling';
/** the sampling percentage of a namespace without the annotation */
export const DEFAULT_TRACE_SAMPLING = 1;

/** Linkerd's default inbound policies: what a workload with no ALLOW policy for a port accepts. */
export type DefaultInboundPolicy = 'all-unauthenticated' | 'all-authenticated' | 'cluster-authenticated' | 'deny';
export const DEFAULT_INBOUND_POLICIES: readonly DefaultInboundPolicy[] = ['all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'deny'];

export type Labels = Readonly<Record<string, string>>;

export interface Namespace {
  readonly name: string;
  readonly labels: Labels;
  /** label nodemesh.io/mesh=enabled */
  readonly meshEnabled: boolean;
  /** annotation nodemesh.io/default-inbound-policy; absent: the mesh's default */
  readonly defaultInboundPolicy?: DefaultInboundPolicy;
  /** annotation nodemesh.io/opaque-ports: the default of its Services that do not carry their own */
  readonly opaquePorts?: readonly number[];
  /** annotation nodemesh.io/access-log=enabled: JSON access log lines for its pods' HTTP requests */
  readonly accessLog?: boolean;
  /** annotation nodemesh.io/trace-sampling: percent (0–100) of new roots sampled; absent: the default */
  readonly traceSampling?: number;
}

export interface ServiceAccount {
  readonly namespace: string;
  readonly name: string;
}

export interface ContainerPort { readonly name?: string; readonly containerPort: number; readonly protocol: 'TCP' | 'UDP' }

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  readonly serviceAccount: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  /** annotation nodemesh.io/capture: "false" */
  readonly captureOptOut: boolean;
  /** status.podIP, absent until the pod has an address */
  readonly podIP?: string;
  /** spec.containers[0].command + args, absent when the pod runs nothing */
  readonly command?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly ports: readonly ContainerPort[];
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort: number | string;
  readonly protocol: 'TCP' | 'UDP';
  /** spec.ports[].appProtocol as written: http, kubernetes.io/h2c, kubernetes.io/ws, grpc, tcp, or any other */
  readonly appProtocol?: string;
}

export interface Service {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIP?: string;
  readonly selector: Labels;
  readonly ports: readonly ServicePort[];
  /** annotation nodemesh.io/opaque-ports; absent: its namespace's */
  readonly opaquePorts?: readonly number[];
}

/** A manifest object that was rejected, with where and why. */
export interface ManifestProblem {
  readonly file: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
  /** field path inside the object, e.g. spec.containers[0].command */
  readonly path: string;
  readonly message: string;
}

/** Everything valid the manifests describe, keyed by name or namespace/name. */
export interface ClusterResources {
  readonly namespaces: ReadonlyMap<string, Namespace>;
  readonly serviceAccounts: ReadonlyMap<string, ServiceAccount>;
  readonly pods: ReadonlyMap<string, Pod>;
  readonly services: ReadonlyMap<string, Service>;
  readonly endpointSlices: ReadonlyMap<string, EndpointSlice>;
  /** keyed by kind/namespace/name */
  readonly routes: ReadonlyMap<string, Route>;
  /** keyed by kind/namespace/name */
  readonly policies: ReadonlyMap<string, Policy>;
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function spiffeId(pod: Pick<Pod, 'namespace' | 'serviceAccount'>, trustDomain = DEFAULT_TRUST_DOMAIN): string {
  return `spiffe://${trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount}`;
}

/** discovery.k8s.io/v1 EndpointSlice, reduced to what routing needs. */
export interface EndpointSlice {
  readonly namespace: string;
  readonly name: string;
  /** label kubernetes.io/service-name */
  readonly serviceName: string;
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: 'TCP' | 'UDP' }[];
  readonly endpoints: readonly { readonly addresses: readonly string[]; readonly ready: boolean; readonly nodeName?: string; readonly podName?: string }[];
}

/** gateway.networking.k8s.io/v1 HTTPRoute or GRPCRoute with a Service parent (mesh routing): route-types.ts. */
export type { Route, RouteParentRef, RouteBackendRef } from './route-types.js';

/** A policy.nodemesh.io object, validated against its CRD's OpenAPI schema (deploy/crds). */
export interface Policy {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** the validated spec, deep-frozen */
  readonly spec: unknown;
}
