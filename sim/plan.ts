// Pure topology planning for the simulated cluster: from validated manifests (ClusterResources) to
// node and pod addresses, network namespace names, veth names and routes. No I/O, no root: the
// builder (netns.ts) executes a plan, the renderer (render.ts) publishes its pod IPs.

import { MeshError } from '../common/errors.js';
import type { ClusterResources, ContainerPort, Pod } from '../controller/src/model/index.js';

export const FABRIC_BRIDGE = 'br0';
export const UPLINK_PREFIX = '10.199.0';
/** first host octet handed to pods; .1 is the gateway, .2–.9 stay free */
export const FIRST_POD_OCTET = 10;
export const LAST_POD_OCTET = 254;
export const MAX_NODES = 250;
export const PIN_ROOT = '/sys/fs/bpf/nodemesh';
const CLUSTER_ID = /^[0-9a-f]{4,12}$/;

export interface NodePlan {
  readonly name: string;
  /** 1-based position in the sorted node names */
  readonly index: number;
  readonly netns: string;
  /** node side of the uplink (eth0 in the node netns) */
  readonly uplinkIp: string;
  readonly uplinkCidr: string;
  /** bridge-side veth name in the fabric netns */
  readonly fabricVeth: string;
  readonly podCidr: string;
  readonly gateway: string;
  readonly pinDir: string;
  /** routes to the other nodes' pod CIDRs */
  readonly routes: readonly { readonly dst: string; readonly via: string }[];
}

export interface PodPlan {
  /** namespace/name */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  /** cluster-wide pod number, names the netns and the host veth */
  readonly slot: number;
  readonly ip: string;
  readonly netns: string;
  /** host-side veth in the node netns (≤ 15 chars); the pod side is always eth0 */
  readonly hostVeth: string;
  readonly command?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly ports: readonly ContainerPort[];
}

export interface ClusterPlan {
  readonly clusterId: string;
  readonly fabricNetns: string;
  readonly bridge: string;
  readonly nodes: readonly NodePlan[];
  readonly pods: readonly PodPlan[];
}

/** Addresses and slots already handed out, kept stable across re-plans. */
export interface Assignments {
  readonly ips: ReadonlyMap<string, string>;
  readonly slots: ReadonlyMap<string, number>;
  /** node names in index order; nodes keep their index, new ones are appended */
  readonly nodes: readonly string[];
}

export function netnsPrefix(clusterId: string): string {
  return `nm-${clusterId}-`;
}

export function checkClusterId(id: string): void {
  if (!CLUSTER_ID.test(id)) throw new MeshError('MESH_ERR_INVALID_ARG', `cluster id "${id}" must be 4–12 lower-case hex digits`);
}

function checkNodeName(node: string): void {
  if (node === 'fab' || /^p-\d+$/.test(node)) {
    throw new MeshError('MESH_ERR_CLUSTER', `node name "${node}" clashes with the simulator's own namespace names (fab, p-<n>); rename spec.nodeName`);
  }
}

/** Sorted distinct spec.nodeName values of the pods. */
export function nodeNames(resources: ClusterResources): string[] {
  return [...new Set([...resources.pods.values()].map((p) => p.nodeName))].sort();
}

/** Pods in stable order: namespace/name, sorted. */
export function sortedPods(resources: ClusterResources): Pod[] {
  return [...resources.pods.values()].sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function planNode(clusterId: string, name: string, index: number, all: readonly string[]): NodePlan {
  const routes = all.map((other, j) => ({ other, j: j + 1 })).filter((o) => o.other !== name)
    .map((o) => ({ dst: `10.200.${o.j}.0/24`, via: `${UPLINK_PREFIX}.${o.j}` }));
  return {
    name,
    index,
    netns: `${netnsPrefix(clusterId)}${name}`,
    uplinkIp: `${UPLINK_PREFIX}.${index}`,
    uplinkCidr: `${UPLINK_PREFIX}.${index}/24`,
    fabricVeth: `nmn${index}`,
    podCidr: `10.200.${index}.0/24`,
    gateway: `10.200.${index}.1`,
    pinDir: `${PIN_ROOT}/${clusterId}-${name}`,
    routes,
  };
}

/**
 * Plans the whole cluster. With `previous`, pods keep their IP and slot (and nodes must be the same
 * set: adding a node needs a restart); new pods get the lowest free address of their node.
 */
export function planCluster(resources: ClusterResources, clusterId: string, previous?: Assignments): ClusterPlan {
  checkClusterId(clusterId);
  const current = nodeNames(resources);
  const names = previous ? [...previous.nodes, ...current.filter((n) => !previous.nodes.includes(n))] : current;
  if (names.length > MAX_NODES) throw new MeshError('MESH_ERR_CLUSTER', `${names.length} nodes exceed the simulator's limit of ${MAX_NODES}; use fewer distinct spec.nodeName values`);
  names.forEach(checkNodeName);
  const nodes = names.map((n, i) => planNode(clusterId, n, i + 1, names));
  const byName = new Map(nodes.map((n) => [n.name, n]));

  const pods = sortedPods(resources);
  const usedIps = new Set<string>();
  const usedSlots = new Set<number>();
  const kept = new Map<string, { ip: string; slot: number }>();
  for (const p of pods) {
    const key = `${p.namespace}/${p.name}`;
    const ip = previous?.ips.get(key);
    const slot = previous?.slots.get(key);
    const node = byName.get(p.nodeName)!;
    if (ip !== undefined && slot !== undefined && ip.startsWith(`10.200.${node.index}.`) && !usedIps.has(ip) && !usedSlots.has(slot)) {
      kept.set(key, { ip, slot });
      usedIps.add(ip);
      usedSlots.add(slot);
    }
  }
  // Slots and IPs of pods that disappeared stay reserved, so a deleted pod's address is not reused
  // while something may still hold a connection to it.
  for (const s of previous?.slots.values() ?? []) usedSlots.add(s);
  for (const ip of previous?.ips.values() ?? []) usedIps.add(ip);

  const nextOctet = new Map<string, number>();
  let nextSlot = 0;
  const out: PodPlan[] = pods.map((p) => {
    const key = `${p.namespace}/${p.name}`;
    const node = byName.get(p.nodeName)!;
    let a = kept.get(key);
    if (!a) {
      let o = nextOctet.get(node.name) ?? FIRST_POD_OCTET;
      while (o <= LAST_POD_OCTET && usedIps.has(`10.200.${node.index}.${o}`)) o++;
      if (o > LAST_POD_OCTET) throw new MeshError('MESH_ERR_CLUSTER', `node ${node.name} has more than ${LAST_POD_OCTET - FIRST_POD_OCTET + 1} pods; spread them over more nodes`);
      nextOctet.set(node.name, o + 1);
      while (usedSlots.has(nextSlot)) nextSlot++;
      a = { ip: `10.200.${node.index}.${o}`, slot: nextSlot };
      usedIps.add(a.ip);
      usedSlots.add(a.slot);
    }
    return {
      key,
      namespace: p.namespace,
      name: p.name,
      node: node.name,
      slot: a.slot,
      ip: a.ip,
      netns: `${netnsPrefix(clusterId)}p-${a.slot}`,
      hostVeth: `nmp${a.slot}`,
      ...(p.command ? { command: p.command } : {}),
      env: p.env,
      ports: p.ports,
    };
  });
  return { clusterId, fabricNetns: `${netnsPrefix(clusterId)}fab`, bridge: FABRIC_BRIDGE, nodes, pods: out };
}

/** The assignments a plan made, to feed the next planCluster call. */
export function assignmentsOf(plan: ClusterPlan, previous?: Assignments): Assignments {
  const ips = new Map(previous?.ips ?? []);
  const slots = new Map(previous?.slots ?? []);
  for (const p of plan.pods) { ips.set(p.key, p.ip); slots.set(p.key, p.slot); }
  return { ips, slots, nodes: plan.nodes.map((n) => n.name) };
}
