// The synthetic cluster as a manifest directory, for measuring the controller behind a ManifestSource:
// cluster-wide objects in one file, EndpointSlices (if any) in another, and the pods in one file per
// node, so a pod change rewrites one node's file, as an operator editing manifests would.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { RawObject, SyntheticCluster } from './generate.js';
import { nodeName } from './generate.js';

const yamlDocs = (objects: Iterable<RawObject>): string => [...objects].map((o) => stringify(o)).join('---\n');

export function podFile(node: number): string {
  return `pods-${nodeName(node)}.yaml`;
}

/** Writes every object of the cluster into `dir`; returns the number of files written. */
export function writeManifests(c: SyntheticCluster, dir: string): number {
  writeFileSync(path.join(dir, 'cluster.yaml'), yamlDocs([...c.objects()].filter((o) => o.kind !== 'Pod' && o.kind !== 'EndpointSlice')));
  if (c.shape.slices) writeSlices(c, dir);
  for (let k = 0; k < c.shape.nodes; k++) writeNodePods(c, dir, k);
  return c.shape.nodes + (c.shape.slices ? 2 : 1);
}

export const SLICES_FILE = 'slices.yaml';

export function slicesYaml(c: SyntheticCluster): string {
  const slices: RawObject[] = [];
  for (let s = 0; s < c.shape.services; s++) slices.push(c.endpointSlice(s));
  return yamlDocs(slices);
}

/** The pod file of node k, from the cluster's current state. */
export function nodePodsYaml(c: SyntheticCluster, node: number): string {
  return yamlDocs(c.pods.filter((p) => p.node === node).map((p) => c.pod(p.index)));
}

function writeSlices(c: SyntheticCluster, dir: string): void {
  writeFileSync(path.join(dir, SLICES_FILE), slicesYaml(c));
}

function writeNodePods(c: SyntheticCluster, dir: string, node: number): void {
  writeFileSync(path.join(dir, podFile(node)), nodePodsYaml(c, node));
}
