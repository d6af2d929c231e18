// Test objects shared by the Kubernetes source tests (fake and real API server): a meshed
// namespace with pods, a Service, its EndpointSlice, a route, and one custom policy whose CRD
// (TEST_CRD, group policy.nodemesh.io) the tests install themselves.
import type { FakeType } from './kube-apiserver.js';

export const TEST_POLICY_TYPE: FakeType = { group: 'policy.nodemesh.io', version: 'v1alpha1', kind: 'TrafficPolicy', plural: 'trafficpolicies', namespaced: true };

export const TEST_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: trafficpolicies.policy.nodemesh.io }
spec:
  group: policy.nodemesh.io
  scope: Namespaced
  names: { kind: TrafficPolicy, plural: trafficpolicies, singular: trafficpolicy, listKind: TrafficPolicyList }
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: { type: string }
            kind: { type: string }
            metadata: { type: object }
            spec:
              type: object
              required: [mode]
              properties:
                mode: { type: string, enum: [STRICT, PERMISSIVE] }
                rate: { type: integer, minimum: 1 }
`;

export function pod(name: string, ip?: string, node = 'node-a'): Record<string, unknown> & { metadata: Record<string, unknown> } {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'shop', labels: { app: 'web' } },
    spec: { nodeName: node, serviceAccountName: 'api', containers: [{ name: 'main', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }] },
    ...(ip ? { status: { podIP: ip } } : {}),
  };
}

export const OBJECTS: Record<string, unknown>[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'nodemesh.io/mesh': 'enabled' } } },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'api', namespace: 'shop' } },
  pod('a', '10.200.1.5'),
  pod('b', '10.200.2.5', 'node-b'),
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [
      { addresses: ['10.200.1.5'], conditions: { ready: true }, nodeName: 'node-a', targetRef: { kind: 'Pod', name: 'a', namespace: 'shop' } },
      { addresses: ['10.200.2.5'], conditions: { ready: false }, nodeName: 'node-b', targetRef: { kind: 'Pod', name: 'b', namespace: 'shop' } },
    ],
  },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'shop' }, spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] } },
  { apiVersion: 'policy.nodemesh.io/v1alpha1', kind: 'TrafficPolicy', metadata: { name: 'strict', namespace: 'shop' }, spec: { mode: 'STRICT', rate: 5 } },
];
