// `nodemesh cluster up|exec|down`: the simulated cluster from the command line. up builds and holds
// it until SIGINT/SIGTERM; exec runs a command in a pod or node of the running cluster (found via
// /run/nodemesh/clusters) like kubectl exec; down removes whatever a crashed run left.

import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { MeshError } from '../common/errors.js';
import { PROMETHEUS_IP, PROMETHEUS_PORT, SimCluster, childEnv, downAll, exitCode, findRunningCluster, netnsExists, netnsPath, resolveArgv, type ClusterStatus } from '../sim/index.js';
import { parseFlags, requireString, splitCommand, usageError } from './args.js';
import { usageOf } from './commands.js';

const say = (m: string): void => { process.stdout.write(`${m}\n`); };

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd()).join('\n');
}

/** Human summary of a cluster: nodes, pods, agents. */
export function describeCluster(st: ClusterStatus): string {
  const nodes = [['NODE', 'NETNS', 'UPLINK', 'POD CIDR', 'AGENT', 'ADMIN SOCKET'],
    ...st.nodes.map((n) => [n.name, n.netns, n.uplinkIp, n.podCidr, n.agent ? `pid ${n.agent.pid}` : st.agents ? 'stopped' : 'off', st.agents ? n.adminSocket : '-'])];
  const pods = [['POD', 'NODE', 'IP', 'NETNS', 'PID', 'LOG'],
    ...st.pods.map((p) => [p.key, p.node, p.ip, p.netns, p.proc ? String(p.proc.pid) : '-', p.log])];
  return `cluster ${st.clusterId}\n${table(nodes)}\n\n${table(pods)}`;
}

export async function clusterUp(argv: string[]): Promise<number> {
  const usage = usageOf(['cluster', 'up']);
  const { values } = parseFlags(argv, { manifests: { type: 'string' }, status: { type: 'string' }, 'no-agents': { type: 'boolean' }, prometheus: { type: 'boolean' } }, usage);
  if (values.prometheus === true && values['no-agents'] === true) throw usageError('--prometheus scrapes the agents and the controller; drop --no-agents', usage);
  const manifestsDir = requireString(values, 'manifests', usage);
  const statusFile = typeof values.status === 'string' ? values.status : undefined;
  const t0 = Date.now();
  const c = await SimCluster.up({
    manifestsDir,
    agents: values['no-agents'] !== true,
    prometheus: values.prometheus === true,
    onProgress: (m) => say(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${m}`),
  });
  // From here on SIGINT/SIGTERM mean "tear down and exit 0", not "abort".
  c.handleSignals(false);
  const st = c.status;
  say(`\n${describeCluster(st)}\n`);
  if (statusFile) writeFileSync(statusFile, `${JSON.stringify(st, null, 2)}\n`);
  const first = st.pods[0]?.key ?? 'NAMESPACE/POD';
  say(`exec into a pod:  nodemesh cluster exec ${first} -- ip addr`);
  say(`agent metrics:    nodemesh cluster exec --node ${st.nodes[0]?.name ?? 'NODE'} -- curl -s localhost:15020/metrics`);
  if (st.prometheus) say(`prometheus:       nodemesh cluster exec --node ${st.nodes[0]?.name ?? 'NODE'} -- curl -s '${PROMETHEUS_IP}:${PROMETHEUS_PORT}/api/v1/query?query=nodemesh_route:response_success:ratio_rate1m'`);
  say('the cluster stays up until Ctrl-C (SIGINT) or SIGTERM');
  const sig = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  say(`\n${sig}: tearing down cluster ${c.clusterId}`);
  const r = await c.down();
  if (statusFile) rmSync(statusFile, { force: true });
  say(`removed ${r.netns.length} network namespace(s), ${r.pinDirs.length} pin dir(s), ${r.processes} process(es)`);
  return 0;
}

export async function clusterExec(argv: string[]): Promise<number> {
  const usage = usageOf(['cluster', 'exec']);
  const { before, command } = splitCommand(argv, usage);
  const { values, positionals } = parseFlags(before, { cluster: { type: 'string' }, node: { type: 'string' } }, usage, { min: 0, max: 1 });
  const node = typeof values.node === 'string' ? values.node : undefined;
  const podKey = positionals[0];
  if (!node && !podKey) throw usageError('name a pod (NAMESPACE/POD) or a node (--node NODE)', usage);
  if (node && podKey) throw usageError('name either a pod or --node, not both', usage);
  if (podKey && !/^[^/]+\/[^/]+$/.test(podKey)) throw usageError(`"${podKey}" is not NAMESPACE/POD`, usage);
  const st = findRunningCluster(typeof values.cluster === 'string' ? values.cluster : undefined);
  let netns: string;
  let env: Record<string, string>;
  if (node) {
    const n = st.nodes.find((x) => x.name === node);
    if (!n) throw new MeshError('MESH_ERR_CLUSTER', `cluster ${st.clusterId} has no node "${node}"; nodes: ${st.nodes.map((x) => x.name).join(', ')}`);
    netns = n.netns;
    env = { NODE_NAME: n.name };
  } else {
    const p = st.pods.find((x) => x.key === podKey);
    if (!p) throw new MeshError('MESH_ERR_CLUSTER', `cluster ${st.clusterId} has no pod "${podKey}"; pods: ${st.pods.map((x) => x.key).join(', ')}`);
    netns = p.netns;
    env = { ...p.env };
  }
  if (!netnsExists(netns)) throw new MeshError('MESH_ERR_CLUSTER', `network namespace ${netns} is gone; the cluster is broken: run "nodemesh cluster down" and start it again`);
  const child = spawn('nsenter', [`--net=${netnsPath(netns)}`, '--', ...resolveArgv(command)], { stdio: 'inherit', env: childEnv(env) });
  // Like kubectl exec: a Ctrl-C reaches the command (same terminal process group); we wait for it.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', (e) => reject(new MeshError('MESH_ERR_COMMAND', `cannot run nsenter: ${e.message}; install util-linux`)));
      child.on('exit', (code, sig) => resolve(exitCode(code, sig)));
    });
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', ignore);
  }
}

export async function clusterDown(argv: string[]): Promise<number> {
  const usage = usageOf(['cluster', 'down']);
  const { values } = parseFlags(argv, { cluster: { type: 'string' } }, usage);
  if (process.getuid?.() !== 0) throw new MeshError('MESH_ERR_NOT_ROOT', 'removing network namespaces and BPF pins needs root; run with sudo');
  const r = await downAll(typeof values.cluster === 'string' ? { clusterId: values.cluster } : {});
  const removed = r.processes + r.netns.length + r.pinDirs.length + r.stateDirs.length;
  if (removed === 0) say('nothing to remove');
  if (r.processes) say(`stopped ${r.processes} process(es)`);
  if (r.netns.length) say(`removed ${r.netns.length} network namespace(s): ${r.netns.join(' ')}`);
  if (r.pinDirs.length) say(`removed BPF pin dir(s): ${r.pinDirs.join(' ')}`);
  if (r.stateDirs.length) say(`removed state dir(s): ${r.stateDirs.join(' ')}`);
  if (r.left.length) throw new MeshError('MESH_ERR_CLUSTER', `could not remove ${r.left.join(', ')}; check "ip netns pids NAME" for processes holding them and run again`);
  return 0;
}
