// What `nodemesh install` applies: the objects `kubectl kustomize deploy/base` renders, with the
// install flags set on them (image, controller replicas, trust domain, log level, example
// namespace), and the per-node cleanup DaemonSet `nodemesh uninstall` runs. Pure functions on
// parsed objects, unit-tested; install.ts does the kubectl side.

import { MeshError } from '../common/errors.js';

export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, unknown>;

export const INSTALL_NAMESPACE = 'nodemesh-system';
export const AGENT_DAEMONSET = 'nodemesh-agent';
export const CLEANUP_DAEMONSET = 'nodemesh-agent-cleanup';
export const CONTROLLER_DEPLOYMENT = 'nodemesh-controller';
export const EXAMPLE_NAMESPACE = 'nodemesh-example';
/** the agent's pin directory on every node (deploy/base/agent.yaml --pin-dir) */
export const NODE_PIN_DIR = '/sys/fs/bpf/nodemesh';

export interface InstallValues {
  /** image reference for controller and agent, e.g. registry.example.com/nodemesh:0.1.0 */
  readonly image?: string;
  readonly pullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  readonly controllerReplicas?: number;
  readonly trustDomain?: string;
  readonly logLevel?: string;
  readonly exampleNamespace?: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** Rejects bad values with the flag that carries them. */
export function checkValues(v: InstallValues): void {
  const bad = (flag: string, why: string): never => { throw new MeshError('MESH_ERR_USAGE', `--${flag}: ${why}`); };
  if (v.image !== undefined && !/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(v.image)) bad('image', `"${v.image}" is not an image reference (registry/name:tag)`);
  if (v.controllerReplicas !== undefined && (!Number.isInteger(v.controllerReplicas) || v.controllerReplicas < 1 || v.controllerReplicas > 10)) bad('controller-replicas', 'must be an integer in 1..10');
  if (v.trustDomain !== undefined && !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(v.trustDomain)) bad('trust-domain', `"${v.trustDomain}" is not a SPIFFE trust domain (lower-case DNS name)`);
  if (v.logLevel !== undefined && !LOG_LEVELS.includes(v.logLevel)) bad('log-level', `must be one of ${LOG_LEVELS.join(', ')}`);
}

type Container = { name: string; image?: string; imagePullPolicy?: string } & Record<string, unknown>;
type PodSpec = { containers?: Container[]; initContainers?: Container[] } & Record<string, unknown>;

function podSpec(o: KubeObject): PodSpec | undefined {
  return ((o.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec);
}

/** The objects to apply: a copy of `base` with the values set; CRDs first, namespaces next. */
export function renderInstall(base: readonly KubeObject[], v: InstallValues): KubeObject[] {
  checkValues(v);
  const out: KubeObject[] = [];
  for (const src of base) {
    if (v.exampleNamespace === false && src.kind === 'Namespace' && src.metadata.name === EXAMPLE_NAMESPACE) continue;
    const o = structuredClone(src);
    const spec = podSpec(o);
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
      if (v.image && c.image?.startsWith('nodemesh')) c.image = v.image;
      if (v.pullPolicy) c.imagePullPolicy = v.pullPolicy;
    }
    if (o.kind === 'Deployment' && o.metadata.name === CONTROLLER_DEPLOYMENT && v.controllerReplicas !== undefined) {
      (o.spec as { replicas?: number }).replicas = v.controllerReplicas;
    }
    if (o.kind === 'ConfigMap' && o.metadata.name === 'nodemesh-config') {
      const data = (o.data ?? {}) as Record<string, string>;
      if (v.trustDomain) data.trustDomain = v.trustDomain;
      if (v.logLevel) data.logLevel = v.logLevel;
      o.data = data;
    }
    out.push(o);
  }
  const rank = (o: KubeObject): number => (o.kind === 'CustomResourceDefinition' ? 0 : o.kind === 'Namespace' ? 1 : 2);
  return out.map((o, i) => ({ o, i })).sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i).map((x) => x.o);
}

/**
 * The uninstall step that runs on every node after the agents are gone: the agent DaemonSet's pod
 * (same image, host network, bpffs mount, capabilities) whose init container runs
 * `nodemesh agent cleanup` — pins removed (links detach, programs and maps are freed) and the
 * policy routing deleted — and whose main container only waits, so "ready on every node" means
 * "cleaned on every node".
 */
export function cleanupDaemonSet(rendered: readonly KubeObject[]): KubeObject {
  const agent = rendered.find((o) => o.kind === 'DaemonSet' && o.metadata.name === AGENT_DAEMONSET);
  if (!agent) throw new MeshError('MESH_ERR_CONFIG', `deploy/base renders no DaemonSet ${AGENT_DAEMONSET}; is deploy/ intact?`);
  const spec = podSpec(agent)!;
  const main = spec.containers?.find((c) => c.name === 'agent');
  if (!main) throw new MeshError('MESH_ERR_CONFIG', `DaemonSet ${AGENT_DAEMONSET} has no container "agent"`);
  const labels = { 'app.kubernetes.io/name': CLEANUP_DAEMONSET, 'app.kubernetes.io/component': 'uninstall', 'app.kubernetes.io/part-of': 'nodemesh' };
  const volumeMounts = ((main.volumeMounts ?? []) as { name: string }[]).filter((m) => m.name === 'bpffs');
  const volumes = ((spec.volumes ?? []) as { name: string }[]).filter((x) => x.name === 'bpffs');
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: CLEANUP_DAEMONSET, namespace: agent.metadata.namespace ?? INSTALL_NAMESPACE, labels },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': CLEANUP_DAEMONSET } },
      template: {
        metadata: { labels },
        spec: {
          hostNetwork: true,
          priorityClassName: spec.priorityClassName,
          tolerations: spec.tolerations,
          terminationGracePeriodSeconds: 1,
          initContainers: [{
            name: 'cleanup',
            image: main.image,
            imagePullPolicy: main.imagePullPolicy,
            args: ['agent', 'cleanup', `--pin-dir=${NODE_PIN_DIR}`, '--routing'],
            securityContext: main.securityContext,
            volumeMounts,
          }],
          containers: [{
            name: 'done',
            image: main.image,
            imagePullPolicy: main.imagePullPolicy,
            command: ['sleep', 'infinity'],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          }],
          volumes,
        },
      },
    },
  };
}

/** Deletion order: the reverse of apply (workloads before RBAC, namespaces and CRDs last). */
export function deletionOrder(objs: readonly KubeObject[], o: { keepCrds: boolean }): KubeObject[] {
  return [...objs].reverse().filter((x) => !(o.keepCrds && x.kind === 'CustomResourceDefinition'));
}
