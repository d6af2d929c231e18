// The configuration a node agent runs on: resources keyed by type and key, as the controller
// streams them (proto/nodemesh/config/v1/config.proto) and as standalone mode computes them
// locally. Readonly domain types; the wire shapes stop in controller/src/grpc and agent/src/config.

import type { DefaultInboundPolicy, Labels, Policy, Route } from '../model/index.js';

export type { DefaultInboundPolicy };
export { DEFAULT_INBOUND_POLICIES } from '../model/index.js';

export type EnrollmentReason = 'enrolled' | 'namespace-not-meshed' | 'namespace-missing' | 'opted-out' | 'no-pod-ip';

/** A pod of the receiving agent's node, in full. */
export interface WorkloadCfg {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly serviceAccount: string;
  readonly identity: string;
  readonly meshed: boolean;
  readonly reason: EnrollmentReason;
  readonly labels: Labels;
  /** its namespace's nodemesh.io/default-inbound-policy annotation; absent: the mesh's default */
  readonly defaultInboundPolicy?: DefaultInboundPolicy;
  /** its namespace has nodemesh.io/access-log=enabled */
  readonly accessLog?: boolean;
  /** its namespace's nodemesh.io/trace-sampling percentage; absent: the default */
  readonly traceSampling?: number;
}

/** Any pod with an IP: enough to label a connection's peer and know whether it is meshed. */
export interface PeerCfg {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly node: string;
  readonly identity: string;
  readonly meshed: boolean;
}

export interface EndpointCfg { readonly ip: string; readonly port: number; readonly node: string; readonly pod: string }

export interface ServicePortCfg {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  /** the target port when it is a number; absent when it names a container port (see endpoints) */
  readonly targetPort?: number;
  /** ready endpoints, target port resolved */
  readonly endpoints: readonly EndpointCfg[];
  /** spec.ports[].appProtocol as written (http, kubernetes.io/h2c, kubernetes.io/ws, grpc, tcp, others kept) */
  readonly appProtocol?: string;
  /** the port is in nodemesh.io/opaque-ports (the Service's, else its namespace's): TCP, no detection */
  readonly opaque: boolean;
}

export interface ServiceCfg {
  readonly namespace: string;
  readonly name: string;
  /** the ClusterIP; '' for a headless service */
  readonly vip: string;
  readonly ports: readonly ServicePortCfg[];
  /** the pod selector (absent: none, endpoints are managed by hand); AuthorizationPolicy Service targets */
  readonly selector?: Labels;
}

export type ConfigResource =
  | { readonly type: 'workload'; readonly key: string; readonly value: WorkloadCfg }
  | { readonly type: 'peer'; readonly key: string; readonly value: PeerCfg }
  | { readonly type: 'service'; readonly key: string; readonly value: ServiceCfg }
  | { readonly type: 'route'; readonly key: string; readonly value: Route }
  | { readonly type: 'policy'; readonly key: string; readonly value: Policy }
  /** the mesh-wide settings: one resource, key MESH_KEY, sent to every node */
  | { readonly type: 'mesh'; readonly key: string; readonly value: MeshCfg };

export type ResourceType = ConfigResource['type'];
export const RESOURCE_TYPES: readonly ResourceType[] = ['workload', 'peer', 'service', 'route', 'policy', 'mesh'];
export const MESH_KEY = 'mesh';

export interface ResourceRef { readonly type: ResourceType; readonly key: string }

/** One message of the stream: a full replacement or a delta. */
export interface ConfigUpdate {
  readonly version: number;
  readonly full: boolean;
  readonly upserts: readonly ConfigResource[];
  readonly removes: readonly ResourceRef[];
}

/** Mesh-wide settings every agent gets: the trust bundle of the CA and the default inbound policy. */
export interface MeshCfg {
  readonly trustDomain: string;
  /** PEM trust anchors (self-signed roots); more than one during a rotation */
  readonly trustAnchors: readonly string[];
  /** cluster-wide default; a namespace may override it by annotation */
  readonly defaultInboundPolicy: DefaultInboundPolicy;
  /** OTLP/HTTP collector (host:port) the agents export spans to; absent: tracing is off */
  readonly traceCollector?: string;
}

/** What an agent holds: every resource of its view, by type then key. */
export interface NodeConfig {
  readonly version: number;
  /** absent until the controller (or standalone mode) sends the mesh settings */
  readonly mesh?: MeshCfg;
  readonly workloads: ReadonlyMap<string, WorkloadCfg>;
  readonly peers: ReadonlyMap<string, PeerCfg>;
  readonly services: ReadonlyMap<string, ServiceCfg>;
  readonly routes: ReadonlyMap<string, Route>;
  readonly policies: ReadonlyMap<string, Policy>;
}
