// Executes a ClusterPlan in the kernel with iproute2 and sysctl: a fabric netns with a bridge, one
// netns per node (uplink on the bridge, ip_forward, routes to the other nodes' pod CIDRs) and one
// netns per pod (eth0 with a /32, gateway route). Also the teardown, idempotent and best effort.

import { execFileSync } from 'node:child_process';
import { ipBatch, ipBatchSync, listNetns, netnsPids, run, signal, sleep } from './exec.js';
import type { ClusterPlan, NodePlan, PodPlan } from './plan.js';

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Every netns name a plan creates, in creation order. */
export function planNetns(plan: ClusterPlan): string[] {
  return [plan.fabricNetns, ...plan.nodes.map((n) => n.netns), ...plan.pods.map((p) => p.netns)];
}

/** Fabric netns with the bridge, node netns with their uplinks, addresses, routes and ip_forward. */
export async function buildNodes(plan: ClusterPlan): Promise<void> {
  const fab = plan.fabricNetns;
  await ipBatch(null, [
    `netns add ${fab}`,
    ...plan.nodes.map((n) => `netns add ${n.netns}`),
    ...plan.nodes.map((n) => `link add ${n.fabricVeth} netns ${fab} type veth peer name eth0 netns ${n.netns}`),
  ]);
  await ipBatch(fab, [
    'link set lo up',
    `link add ${plan.bridge} type bridge`,
    `link set ${plan.bridge} up`,
    ...plan.nodes.flatMap((n) => [`link set ${n.fabricVeth} master ${plan.bridge}`, `link set ${n.fabricVeth} up`]),
  ]);
  await Promise.all(plan.nodes.map(async (n) => {
    await ipBatch(n.netns, [
      'link set lo up',
      `addr add ${n.uplinkCidr} dev eth0`,
      'link set eth0 up',
      ...n.routes.map((r) => `route add ${r.dst} via ${r.via} dev eth0`),
    ]);
    await run('nsenter', [`--net=${netnsPath(n.netns)}`, '--', 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  }));
}

/** Pod netns, their veths, the node-side gateway /32 and the node's /32 route to each pod. */
export async function buildPods(plan: ClusterPlan, pods: readonly PodPlan[]): Promise<void> {
  if (pods.length === 0) return;
  const nodeOf = new Map(plan.nodes.map((n) => [n.name, n]));
  await ipBatch(null, [
    ...pods.map((p) => `netns add ${p.netns}`),
    ...pods.map((p) => `link add ${p.hostVeth} netns ${nodeOf.get(p.node)!.netns} type veth peer name eth0 netns ${p.netns}`),
  ]);
  const byNode = new Map<NodePlan, PodPlan[]>();
  for (const p of pods) {
    const n = nodeOf.get(p.node)!;
    byNode.set(n, [...(byNode.get(n) ?? []), p]);
  }
  await Promise.all([...byNode].map(([n, ps]) => ipBatch(n.netns, ps.flatMap((p) => [
    `addr add ${n.gateway}/32 dev ${p.hostVeth}`,
    `link set ${p.hostVeth} up`,
    `route add ${p.ip}/32 dev ${p.hostVeth}`,
  ]))));
  await Promise.all(pods.map((p) => {
    const gw = nodeOf.get(p.node)!.gateway;
    return ipBatch(p.netns, [
      'link set lo up',
      `addr add ${p.ip}/32 dev eth0`,
      'link set eth0 up',
      `route add ${gw} dev eth0 scope link`,
      `route add default via ${gw} dev eth0`,
    ]);
  }));
}

/** Kills every process inside the given netns: SIGTERM, then SIGKILL after graceMs. */
export async function killNetnsProcesses(names: readonly string[], graceMs = 2000): Promise<number> {
  const present = new Set(listNetns());
  const pids = [...new Set(names.filter((n) => present.has(n)).flatMap(netnsPids))];
  for (const pid of pids) signal(pid, 'SIGTERM', false);
  const t0 = Date.now();
  let alive = pids;
  while (alive.length && Date.now() - t0 < graceMs) {
    await sleep(50);
    alive = alive.filter((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } });
  }
  for (const pid of alive) signal(pid, 'SIGKILL', false);
  return pids.length;
}

/** Deletes network namespaces that exist (pods first, fabric last); returns the names removed. */
export async function deleteNetns(names: readonly string[]): Promise<string[]> {
  const present = new Set(listNetns());
  const doomed = [...names].reverse().filter((n) => present.has(n));
  await ipBatch(null, doomed.map((n) => `netns del ${n}`), { force: true });
  const left = new Set(listNetns());
  return doomed.filter((n) => !left.has(n));
}

/** Synchronous teardown for process exit handlers: SIGKILL the netns' processes, delete the netns. */
export function teardownNetnsSync(names: readonly string[]): void {
  const present = new Set(listNetns());
  const doomed = [...names].reverse().filter((n) => present.has(n));
  for (const n of doomed) for (const pid of netnsPids(n)) signal(pid, 'SIGKILL', false);
  ipBatchSync(null, doomed.map((n) => `netns del ${n}`));
}

/** True when the kernel has a netns of this name (used by tests and `cluster exec`). */
export function netnsExists(name: string): boolean {
  try {
    execFileSync('ip', ['netns', 'pids', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
