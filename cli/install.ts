// `nodemesh install` renders deploy/base with kustomize (kubectl kustomize, offline), sets the flags'
// values (install-render.ts) and applies it: CRDs first, waits for them to be Established, then the
// rest; --dry-run prints the YAML instead. `nodemesh uninstall` removes the agents, runs the cleanup
// DaemonSet on every node (pins, links, maps, policy routing), then deletes everything else.

import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { MeshError } from '../common/errors.js';
import { ROOT } from '../native/index.js';
import { intFlag, parseFlags, type FlagValues } from './args.js';
import { usageOf } from './commands.js';
import {
  AGENT_DAEMONSET, CLEANUP_DAEMONSET, INSTALL_NAMESPACE, cleanupDaemonSet, deletionOrder, renderInstall,
  type InstallValues, type KubeObject,
} from './install-render.js';
import { kubectlOk, kubectlRun, type KubectlTarget } from './kubectl.js';

export const KUBE_FLAGS = {
  kubectl: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const;

export function kubeTarget(values: FlagValues): KubectlTarget {
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  return { kubectl: s('kubectl') ?? 'kubectl', ...(s('kubeconfig') ? { kubeconfig: s('kubeconfig')! } : {}), ...(s('context') ? { context: s('context')! } : {}) };
}

const RENDER_FLAGS = {
  ...KUBE_FLAGS,
  image: { type: 'string' },
  'pull-policy': { type: 'string' },
  'controller-replicas': { type: 'string' },
  'trust-domain': { type: 'string' },
  'log-level': { type: 'string' },
  'no-example-namespace': { type: 'boolean' },
  namespace: { type: 'string' },
} as const;

function valuesOf(values: FlagValues, usage: string): InstallValues {
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const ns = s('namespace');
  if (ns !== undefined && ns !== INSTALL_NAMESPACE) {
    // the mesh root namespace and the agents' ServiceAccount the controller's TokenReview expects
    // are fixed to nodemesh-system today; installing elsewhere would start agents nobody accepts
    throw new MeshError('MESH_ERR_USAGE', `--namespace: only ${INSTALL_NAMESPACE} is supported (the mesh root namespace and the agents' ServiceAccount nodemesh-system/nodemesh-agent are fixed); omit the flag\nusage: ${usage}`);
  }
  const pp = s('pull-policy');
  if (pp !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(pp)) throw new MeshError('MESH_ERR_USAGE', `--pull-policy must be Always, IfNotPresent or Never\nusage: ${usage}`);
  const replicas = intFlag(values, 'controller-replicas', usage, { min: 1, max: 10 });
  return {
    ...(s('image') ? { image: s('image')! } : {}),
    ...(pp ? { pullPolicy: pp as InstallValues['pullPolicy'] } : {}),
    ...(replicas !== undefined ? { controllerReplicas: replicas } : {}),
    ...(s('trust-domain') ? { trustDomain: s('trust-domain')! } : {}),
    ...(s('log-level') ? { logLevel: s('log-level')! } : {}),
    ...(values['no-example-namespace'] === true ? { exampleNamespace: false } : {}),
  };
}

export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null && typeof o === 'object' && typeof o.kind === 'string');
}

export const toYaml = (objs: readonly KubeObject[]): string => objs.map((o) => stringify(o)).join('---\n');

/** deploy/base rendered by kustomize (offline) with the values set. */
export async function renderDeploy(t: KubectlTarget, v: InstallValues): Promise<KubeObject[]> {
  const base = await kubectlOk({ kubectl: t.kubectl }, ['kustomize', path.join(ROOT, 'deploy', 'base')], 'rendering deploy/base');
  return renderInstall(parseObjects(base), v);
}

export async function install(argv: string[]): Promise<number> {
  const usage = usageOf(['install']);
  const { values } = parseFlags(argv, { ...RENDER_FLAGS, 'dry-run': { type: 'boolean' } }, usage);
  const t = kubeTarget(values);
  const objs = await renderDeploy(t, valuesOf(values, usage));
  if (values['dry-run'] === true) {
    process.stdout.write(toYaml(objs));
    return 0;
  }
  const crds = objs.filter((o) => o.kind === 'CustomResourceDefinition');
  const rest = objs.filter((o) => o.kind !== 'CustomResourceDefinition');
  process.stdout.write(await kubectlOk(t, ['apply', '-f', '-'], 'applying the CRDs', toYaml(crds)));
  await kubectlOk(t, ['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((c) => `crd/${c.metadata.name}`)], 'waiting for the CRDs');
  process.stdout.write(await kubectlOk(t, ['apply', '-f', '-'], 'applying nodemesh', toYaml(rest)));
  process.stdout.write(`\nnodemesh installed in ${INSTALL_NAMESPACE}; check it with: nodemesh check --dataplane --controller-admin http://<controller>:15014\n`);
  return 0;
}

async function nodeCount(t: KubectlTarget): Promise<number> {
  const out = await kubectlOk(t, ['get', 'nodes', '-o', 'name'], 'listing nodes');
  return out.split('\n').filter(Boolean).length;
}

/** Waits until the cleanup DaemonSet's pod is ready on every node it was scheduled to. */
async function waitCleaned(t: KubectlTarget, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await kubectlRun(t, ['-n', INSTALL_NAMESPACE, 'get', 'daemonset', CLEANUP_DAEMONSET, '-o', 'json']);
    if (r.code === 0) {
      const st = (JSON.parse(r.stdout) as { status?: { desiredNumberScheduled?: number; numberReady?: number } }).status;
      if (st?.desiredNumberScheduled !== undefined && st.desiredNumberScheduled > 0 && st.numberReady === st.desiredNumberScheduled) return;
    }
    if (Date.now() > until) {
      throw new MeshError('MESH_ERR_COMMAND', `the node cleanup did not finish within ${timeoutMs / 1000} s; see kubectl -n ${INSTALL_NAMESPACE} get pods -l app.kubernetes.io/name=${CLEANUP_DAEMONSET} and their init container "cleanup" logs, then run nodemesh uninstall again`);
    }
    await new Promise((res) => setTimeout(res, 2000));
  }
}

export async function uninstall(argv: string[]): Promise<number> {
  const usage = usageOf(['uninstall']);
  const { values } = parseFlags(argv, { ...KUBE_FLAGS, 'keep-crds': { type: 'boolean' }, 'cleanup-timeout': { type: 'string' } }, usage);
  const t = kubeTarget(values);
  const timeoutS = intFlag(values, 'cleanup-timeout', usage, { min: 10, max: 3600 }) ?? 300;
  const objs = await renderDeploy(t, {});
  const say = (m: string): void => { process.stdout.write(`${m}\n`); };
  // 1. the agents go first (SIGTERM: they stop serving and keep their pins), and must be gone
  say((await kubectlOk(t, ['-n', INSTALL_NAMESPACE, 'delete', 'daemonset', AGENT_DAEMONSET, '--ignore-not-found', '--wait=true', '--timeout=120s'], 'deleting the agents')).trim() || `daemonset ${AGENT_DAEMONSET} already gone`);
  const gone = await kubectlRun(t, ['-n', INSTALL_NAMESPACE, 'wait', '--for=delete', 'pod', '-l', `app.kubernetes.io/name=${AGENT_DAEMONSET}`, '--timeout=120s']);
  if (gone.code !== 0 && !/no matching resources/i.test(gone.stderr)) throw new MeshError('MESH_ERR_COMMAND', `the agent pods did not exit: ${gone.stderr.trim()}; see kubectl -n ${INSTALL_NAMESPACE} get pods`);
  // 2. every node's BPF state and policy routing, by the cleanup DaemonSet
  const nodes = await nodeCount(t);
  const nsExists = (await kubectlRun(t, ['get', 'namespace', INSTALL_NAMESPACE])).code === 0;
  if (nodes > 0 && nsExists) {
    say((await kubectlOk(t, ['apply', '-f', '-'], 'starting the node cleanup', toYaml([cleanupDaemonSet(objs)]))).trim());
    await waitCleaned(t, timeoutS * 1000);
    say(`node cleanup done on ${nodes} node(s): no nodemesh BPF program, link, map, pin or policy route left`);
    await kubectlOk(t, ['-n', INSTALL_NAMESPACE, 'delete', 'daemonset', CLEANUP_DAEMONSET, '--ignore-not-found', '--wait=false'], 'removing the node cleanup');
  } else {
    say(nodes === 0 ? 'no nodes: no node cleanup to run' : `namespace ${INSTALL_NAMESPACE} is gone: no node cleanup to run (run "nodemesh agent cleanup --pin-dir /sys/fs/bpf/nodemesh --routing" on a node by hand if agents ran there)`);
  }
  // 3. everything else, in the reverse order of install
  const rest = deletionOrder(objs.filter((o) => !(o.kind === 'DaemonSet' && o.metadata.name === AGENT_DAEMONSET)), { keepCrds: values['keep-crds'] === true });
  say((await kubectlOk(t, ['delete', '-f', '-', '--ignore-not-found', '--wait=false'], 'deleting nodemesh', toYaml(rest))).trim());
  say(`\nnodemesh uninstalled${values['keep-crds'] === true ? ' (CRDs and their policies kept)' : ''}`);
  return 0;
}
