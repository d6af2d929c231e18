// Knobs and the simulated cluster of the CSR signing benchmark (`npm run bench:csr`): BENCH_CSR_*
// variables, and the manifests that schedule each node's pods (with IPs) so every identity a node
// asks for is legitimately its own; the node tokens. Pure.

import { int } from '../env.js';

export interface CsrConfig {
  /** measured seconds (after 1 s of warm-up) */
  readonly seconds: number;
  /** simulated nodes, each with its own token and gRPC channel */
  readonly nodes: number;
  /** service accounts (identities) per node */
  readonly identitiesPerNode: number;
  /** CSRs in flight over all nodes */
  readonly concurrency: number;
  /** distinct CSRs generated before the window (then cycled) */
  readonly pool: number;
  /** signing worker threads for the SignPool reference rate; 0 skips it */
  readonly workers: number;
  /** 1: a second, profiled window (V8 CPU profile of the controller's process) */
  readonly profile: number;
}

export function csrConfig(env: NodeJS.ProcessEnv = process.env): CsrConfig {
  return {
    seconds: int(env, 'BENCH_CSR_SECONDS', 10, 1, 600),
    nodes: int(env, 'BENCH_CSR_NODES', 8, 1, 1000),
    identitiesPerNode: int(env, 'BENCH_CSR_IDENTITIES', 4, 1, 100),
    concurrency: int(env, 'BENCH_CSR_CONCURRENCY', 64, 1, 10_000),
    pool: int(env, 'BENCH_CSR_POOL', 2000, 1, 1_000_000),
    workers: int(env, 'BENCH_CSR_WORKERS', 2, 0, 64),
    profile: int(env, 'BENCH_CSR_PROFILE', 0, 0, 1),
  };
}

export const TRUST_DOMAIN = 'cluster.local';
export const NAMESPACE = 'csr-bench';

export interface SimNode {
  readonly node: string;
  readonly token: string;
  /** the SPIFFE identities of the pods scheduled on it */
  readonly identities: readonly string[];
}

export const identityOf = (sa: string): string => `spiffe://${TRUST_DOMAIN}/ns/${NAMESPACE}/sa/${sa}`;

/** Nodes node-0…, each with `perNode` service accounts of its own (sa-<node>-<k>), one pod each. */
export function simNodes(nodes: number, perNode: number, token: (i: number) => string): SimNode[] {
  return Array.from({ length: nodes }, (_, i) => ({
    node: `node-${i}`,
    token: token(i),
    identities: Array.from({ length: perNode }, (_, k) => identityOf(`sa-${i}-${k}`)),
  }));
}

/** The manifests: a mesh-enabled namespace and one pod per identity on its node, with a pod IP. */
export function manifestsYaml(nodes: readonly SimNode[]): string {
  const docs = [`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${NAMESPACE}, labels: { nodemesh.io/mesh: enabled } }\n`];
  nodes.forEach((n, i) => n.identities.forEach((id, k) => {
    const sa = id.slice(id.lastIndexOf('/') + 1);
    const ip = `10.${200 + Math.floor(i / 250)}.${(i % 250) + 1}.${k + 10}`;
    docs.push(`apiVersion: v1\nkind: Pod\nmetadata: { name: p-${i}-${k}, namespace: ${NAMESPACE} }\n`
      + `spec: { nodeName: ${n.node}, serviceAccountName: ${sa}, containers: [{ name: c }] }\nstatus: { podIP: ${ip} }\n`);
  }));
  return docs.join('---\n');
}
