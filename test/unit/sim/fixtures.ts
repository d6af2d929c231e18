// Builds ClusterResources from inline YAML for the simulator's unit tests (through the agent's own
// parser, so the tests see exactly the domain objects the simulator gets in production).

import { parseManifests, objectKey, type ClusterResources, type Namespace, type Pod, type Service, type ServiceAccount } from '../../../agent/src/manifests/index.js';

export function resources(yaml: string): ClusterResources {
  const r = parseManifests('test.yaml', yaml);
  if (r.problems.length) throw new Error(`fixture has problems: ${JSON.stringify(r.problems)}`);
  const namespaces = new Map<string, Namespace>();
  const pods = new Map<string, Pod>();
  const services = new Map<string, Service>();
  const serviceAccounts = new Map<string, ServiceAccount>();
  for (const o of r.objects) {
    if (o.kind === 'Namespace') namespaces.set(o.value.name, o.value);
    else if (o.kind === 'Pod') pods.set(objectKey(o.value.namespace, o.value.name), o.value);
    else if (o.kind === 'Service') services.set(objectKey(o.value.namespace, o.value.name), o.value);
    else serviceAccounts.set(objectKey(o.value.namespace, o.value.name), o.value);
  }
  return { namespaces, pods, services, serviceAccounts };
}

export function pod(ns: string, name: string, node: string, extra = ''): string {
  return `---\napiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { nodeName: ${node}, containers: [{ name: c, image: sim, command: [sleep, infinity]${extra} }] }\n`;
}
