// The footprint benchmark's cluster as manifests: node-a carries PODS_A enrolled pods (20 apps,
// each with its own ServiceAccount, Service, HTTPRoute and AuthorizationPolicy), node-b a few, so
// an idle agent holds a realistic config for 100 pods. Pure text generation.

export interface FootprintShape {
  readonly podsA: number;
  readonly podsB: number;
  readonly apps: number;
}

export const DEFAULT_SHAPE: FootprintShape = { podsA: 100, podsB: 10, apps: 20 };

const NS = 'fp';

export function footprintManifests(shape: FootprintShape = DEFAULT_SHAPE): string {
  const docs: string[] = [
    `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${NS}, labels: { nodemesh.io/mesh: enabled } }`,
  ];
  for (let a = 0; a < shape.apps; a++) {
    const app = `app${a}`;
    docs.push(`apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: ${app}, namespace: ${NS} }`);
    docs.push([
      'apiVersion: v1', 'kind: Service', `metadata: { name: ${app}, namespace: ${NS} }`, 'spec:',
      `  clusterIP: 10.96.40.${a + 10}`, `  selector: { app: ${app} }`,
      '  ports:', '    - { name: http, port: 80, targetPort: 8080 }', '    - { name: tcp, port: 9000, targetPort: 9000 }',
    ].join('\n'));
    docs.push([
      'apiVersion: gateway.networking.k8s.io/v1', 'kind: HTTPRoute', `metadata: { name: ${app}, namespace: ${NS} }`, 'spec:',
      `  parentRefs: [{ group: "", kind: Service, name: ${app}, port: 80 }]`, '  rules:',
      '    - matches: [{ path: { type: PathPrefix, value: /api } }]', '      timeouts: { request: 2s }',
      `      backendRefs: [{ name: ${app}, port: 80 }]`,
      `    - backendRefs: [{ name: ${app}, port: 80 }]`,
    ].join('\n'));
    const caller = `app${(a + 1) % shape.apps}`;
    docs.push([
      'apiVersion: policy.nodemesh.io/v1alpha1', 'kind: AuthorizationPolicy', `metadata: { name: ${app}-read, namespace: ${NS} }`, 'spec:',
      `  selector: { matchLabels: { app: ${app} } }`, '  action: ALLOW', '  rules:',
      `    - from: [{ identities: ["spiffe://cluster.local/ns/${NS}/sa/${caller}"] }]`,
      '      to: [{ ports: [8080], methods: [GET, HEAD], paths: ["/api/*"] }, { ports: [9000] }]',
    ].join('\n'));
  }
  const pod = (i: number, node: string): string => {
    const app = `app${i % shape.apps}`;
    return [
      'apiVersion: v1', 'kind: Pod', `metadata: { name: ${node}-p${i}, namespace: ${NS}, labels: { app: ${app} } }`,
      `spec: { nodeName: ${node}, serviceAccountName: ${app}, containers: [{ name: c, image: sim, command: [sleep, infinity] }] }`,
    ].join('\n');
  };
  for (let i = 0; i < shape.podsA; i++) docs.push(pod(i, 'node-a'));
  for (let i = 0; i < shape.podsB; i++) docs.push(pod(i, 'node-b'));
  return `${docs.join('\n---\n')}\n`;
}
