// Public surface of the simulated cluster: SimCluster (build, exec, agent handles, teardown), the
// pure planner and renderer (unit-tested without root), state discovery and crash cleanup for the CLI.

export { SimCluster, type UpOptions, type NodeInfo, type PodInfo, type PodProcess } from './cluster.js';
export { planCluster, assignmentsOf, nodeNames, sortedPods, netnsPrefix, PIN_ROOT, type ClusterPlan, type NodePlan, type PodPlan, type Assignments } from './plan.js';
export { renderManifestText, renderManifestDir, type StatusOf, type PodStatus } from './render.js';
export { findRunningCluster, listStateDirs, readStatus, writeStatus, stateRoot, stateDir, type ClusterStatus, type NodeStatus, type PodStatusRecord } from './state.js';
export { downAll, removePins, type DownReport } from './teardown.js';
export { resolveArgv, childEnv, spawnInNetns, execInNetns, exitCode, CLI_PATH, type ExecResult } from './procs.js';
export { unixGet, type HttpResult } from './agents.js';
export { netnsPath, netnsExists } from './netns.js';
export { startTime } from './exec.js';
export { startLinkCapture, type LinkCapture } from './pcap.js';
export { PROMETHEUS_IP, PROMETHEUS_PORT, RULES_FILE, prometheusConfig, targetGroups, type PrometheusOptions, type PromResult } from './prometheus.js';
