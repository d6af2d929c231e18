// Builds ClusterResources from inline YAML for the simulator's unit tests (through the agent's own
// parser, so the tests see exactly the domain objects the simulator gets in production).

import { parseManifests, resourcesFrom, type ClusterResources } from '../../../controller/src/model/index.js';

export function resources(yaml: string): ClusterResources {
  const r = parseManifests('test.yaml', yaml);
  if (r.problems.length) throw new Error(`fixture has problems: ${JSON.stringify(r.problems)}`);
  return resourcesFrom(r.objects);
}

export function pod(ns: string, name: string, node: string, extra = ''): string {
  return `---\napiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { nodeName: ${node}, containers: [{ name: c, image: sim, command: [sleep, infinity]${extra} }] }\n`;
}
