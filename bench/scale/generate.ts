// Synthetic cluster for the controller scale benchmark, as raw Kubernetes objects (what YAML or the
// API would carry): namespaces (every other one meshed), service accounts, services, optional
// EndpointSlices, and pods with IPs from per-node CIDR blocks, each service selecting its pods on
// distinct nodes. Deterministic; the only state is the pods' current IPs (for the change phase).

export type RawObject = Record<string, unknown>;

export interface ClusterShape {
  readonly pods: number;
  readonly services: number;
  readonly nodes: number;
  readonly namespaces: number;
  /** publish EndpointSlices (as a real API server would) instead of leaving endpoints to selectors */
  readonly slices: boolean;
  /** addresses kept free in every node's block for IP changes */
  readonly spareIps: number;
}

export const DEFAULT_SHAPE: ClusterShape = { pods: 10_000, services: 1_000, nodes: 100, namespaces: 20, slices: false, spareIps: 32 };

const POD_BASE = ipToInt('10.64.0.0');
const VIP_BASE = ipToInt('10.96.0.0');
const SERVICE_ACCOUNTS_PER_NS = 5;

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new RangeError(`not an IPv4 address: ${ip}`);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
export const nodeName = (k: number): string => `node-${pad(k, 3)}`;
export const namespaceName = (i: number): string => `ns-${pad(i, 2)}`;
export const serviceName = (s: number): string => `svc-${pad(s, 4)}`;

/** Where pod p lives: its service, replica index, namespace and node (replicas on distinct nodes). */
export function placement(shape: ClusterShape, p: number): { service: number; replica: number; namespace: number; node: number } {
  const service = p % shape.services;
  const replica = Math.floor(p / shape.services);
  return { service, replica, namespace: service % shape.namespaces, node: (p + replica) % shape.nodes };
}

export interface PodInfo {
  readonly index: number;
  readonly key: string;
  readonly node: number;
  readonly service: number;
  /** index among the pods of its node: its host offset in the node's block */
  readonly slot: number;
}

export class SyntheticCluster {
  readonly shape: ClusterShape;
  /** the prefix length of every node's block */
  readonly prefixLength: number;
  readonly pods: readonly PodInfo[];
  readonly #ips: string[];
  readonly #nextSpare: number[];
  readonly #podsOnNode: number[];
  readonly #podsOfService: number[][];

  constructor(shape: ClusterShape = DEFAULT_SHAPE) {
    for (const [k, v] of Object.entries(shape)) if (typeof v === 'number' && (!Number.isInteger(v) || v < (k === 'spareIps' || k === 'pods' ? 0 : 1))) throw new RangeError(`shape.${k}=${v}`);
    this.shape = shape;
    this.#podsOnNode = new Array<number>(shape.nodes).fill(0);
    this.#podsOfService = Array.from({ length: shape.services }, () => []);
    const pods: PodInfo[] = [];
    for (let p = 0; p < shape.pods; p++) {
      const pl = placement(shape, p);
      pods.push({ index: p, key: `${namespaceName(pl.namespace)}/${podName(pl.service, pl.replica)}`, node: pl.node, service: pl.service, slot: this.#podsOnNode[pl.node]!++ });
      this.#podsOfService[pl.service]!.push(p);
    }
    this.pods = pods;
    // network, gateway and broadcast addresses stay out of use
    const hostsNeeded = Math.max(0, ...this.#podsOnNode) + shape.spareIps + 3;
    const bits = Math.max(8, Math.ceil(Math.log2(hostsNeeded)));
    if (shape.nodes * 2 ** bits > 2 ** 22) throw new RangeError(`${shape.nodes} nodes × /${32 - bits} blocks do not fit in 10.64.0.0/10`);
    this.prefixLength = 32 - bits;
    this.#ips = pods.map((pod) => this.hostIp(pod.node, pod.slot));
    this.#nextSpare = this.#podsOnNode.slice();
  }

  /** The CIDR block of node k. */
  nodeCidr(k: number): string {
    return `${intToIp(POD_BASE + k * 2 ** (32 - this.prefixLength))}/${this.prefixLength}`;
  }

  /** The address at host offset `slot` of node k's block (offsets start after the gateway). */
  hostIp(k: number, slot: number): string {
    return intToIp(POD_BASE + k * 2 ** (32 - this.prefixLength) + 2 + slot);
  }

  podIp(p: number): string {
    return this.#ips[p]!;
  }

  podsOnNode(k: number): number {
    return this.#podsOnNode[k]!;
  }

  podsOfService(s: number): readonly number[] {
    return this.#podsOfService[s]!;
  }

  /** Gives pod p the next free spare address of its node; returns the objects that changed. */
  movePod(p: number): RawObject[] {
    const pod = this.pods[p];
    if (!pod) throw new RangeError(`no pod ${p}`);
    const next = this.#nextSpare[pod.node]!;
    if (next >= this.#podsOnNode[pod.node]! + this.shape.spareIps) throw new RangeError(`node ${nodeName(pod.node)} has no spare address left`);
    this.#nextSpare[pod.node] = next + 1;
    this.#ips[p] = this.hostIp(pod.node, next);
    return this.shape.slices ? [this.pod(p), this.endpointSlice(pod.service)] : [this.pod(p)];
  }

  namespace(i: number): RawObject {
    const labels = i % 2 === 0 ? { 'nodemesh.io/mesh': 'enabled', team: `team-${i % 7}` } : { team: `team-${i % 7}` };
    return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespaceName(i), labels } };
  }

  serviceAccount(ns: number, i: number): RawObject {
    return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `sa-${i}`, namespace: namespaceName(ns) } };
  }

  service(s: number): RawObject {
    const ns = s % this.shape.namespaces;
    return {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: serviceName(s), namespace: namespaceName(ns), labels: { app: serviceName(s) } },
      spec: { clusterIP: intToIp(VIP_BASE + 1 + s), selector: { app: serviceName(s) }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
    };
  }

  endpointSlice(s: number): RawObject {
    const ns = s % this.shape.namespaces;
    return {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { name: `${serviceName(s)}-slice`, namespace: namespaceName(ns), labels: { 'kubernetes.io/service-name': serviceName(s) } },
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: this.podsOfService(s).map((p) => ({
        addresses: [this.podIp(p)], conditions: { ready: true }, nodeName: nodeName(this.pods[p]!.node),
        targetRef: { kind: 'Pod', name: podName(s, placement(this.shape, p).replica), namespace: namespaceName(ns) },
      })),
    };
  }

  pod(p: number): RawObject {
    const pl = placement(this.shape, p);
    const annotations: Record<string, string> = { 'example.com/build': `b${p % 97}` };
    if (p % 50 === 49) annotations['nodemesh.io/capture'] = 'false';
    return {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: podName(pl.service, pl.replica), namespace: namespaceName(pl.namespace),
        labels: { app: serviceName(pl.service), version: `v${1 + (p % 3)}`, 'pod-template-hash': (p * 2654435761 >>> 0).toString(16).slice(0, 8) },
        annotations,
      },
      spec: {
        nodeName: nodeName(pl.node),
        serviceAccountName: `sa-${pl.service % SERVICE_ACCOUNTS_PER_NS}`,
        containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }],
      },
      status: { podIP: this.#ips[p] },
    };
  }

  /** Every object of the cluster: namespaces, service accounts, services, slices, pods. */
  *objects(): Generator<RawObject> {
    const { namespaces, services, pods } = this.shape;
    for (let i = 0; i < namespaces; i++) yield this.namespace(i);
    for (let i = 0; i < namespaces; i++) for (let a = 0; a < SERVICE_ACCOUNTS_PER_NS; a++) yield this.serviceAccount(i, a);
    for (let s = 0; s < services; s++) yield this.service(s);
    if (this.shape.slices) for (let s = 0; s < services; s++) yield this.endpointSlice(s);
    for (let p = 0; p < pods; p++) yield this.pod(p);
  }
}

export function podName(service: number, replica: number): string {
  return `${serviceName(service)}-${replica}`;
}
