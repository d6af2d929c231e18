// The table of nodemesh commands: words, usage line, one-line summary and a lazy loader, so a
// short-lived command (workload get) does not load the agent, the native addon or prom-client.
// main.ts dispatches on it and prints it as --help.

export type CommandRun = (argv: string[]) => Promise<number>;

export interface Command {
  readonly words: readonly string[];
  readonly usage: string;
  readonly summary: string;
  readonly load: () => Promise<CommandRun>;
}

export const COMMANDS: readonly Command[] = [
  {
    words: ['cluster', 'up'],
    usage: 'nodemesh cluster up --manifests DIR [--status FILE] [--no-agents] [--prometheus]',
    summary: 'build a simulated cluster (network namespaces) from manifests, run it until Ctrl-C, then tear it down',
    load: async () => (await import('./cluster.js')).clusterUp,
  },
  {
    words: ['cluster', 'exec'],
    usage: 'nodemesh cluster exec [--cluster ID] (NAMESPACE/POD | --node NODE) -- CMD [ARG...]',
    summary: 'run a command inside a pod or node of the running cluster (stdio attached, exit code passed through)',
    load: async () => (await import('./cluster.js')).clusterExec,
  },
  {
    words: ['cluster', 'down'],
    usage: 'nodemesh cluster down [--cluster ID]',
    summary: 'remove everything a cluster (also a crashed one) left: processes, nm-* netns, BPF pins, state',
    load: async () => (await import('./cluster.js')).clusterDown,
  },
  {
    words: ['check'],
    usage: 'nodemesh check [--pre [--kubeconfig FILE] [--context CTX] [--kubectl PATH]] [--dataplane [--cluster ID | --controller-admin http://HOST:15014 [--nodes N1,N2] [--agent-admin-port 15020]] [--min-validity-minutes 60]]',
    summary: 'check kernel features, tools and build artifacts; --pre: cluster prerequisites (version, RBAC, CRDs); --dataplane: agents ready, config ACKed, certificates valid. ✓/✗ with a hint, exit 1 on any ✗',
    load: async () => (await import('./check.js')).check,
  },
  {
    words: ['install'],
    usage: 'nodemesh install [--dry-run] [--image REF] [--pull-policy Always|IfNotPresent|Never] [--controller-replicas N] [--trust-domain DOMAIN] [--log-level LEVEL] [--no-example-namespace] [--kubeconfig FILE] [--context CTX] [--kubectl PATH]',
    summary: 'render deploy/ (kustomize) with these values and apply it with kubectl (CRDs first); --dry-run prints the YAML',
    load: async () => (await import('./install.js')).install,
  },
  {
    words: ['uninstall'],
    usage: 'nodemesh uninstall [--keep-crds] [--cleanup-timeout SECONDS] [--kubeconfig FILE] [--context CTX] [--kubectl PATH]',
    summary: "remove nodemesh: the agents, then every node's BPF programs, links, maps, pins and policy routing (a cleanup DaemonSet), then the rest",
    load: async () => (await import('./install.js')).uninstall,
  },
  {
    words: ['workload', 'echo'],
    usage: 'nodemesh workload echo [--http PORT] [--h2c PORT] [--grpc PORT] [--tcp PORT] [--name SERVICE] [--version V] [--fail-rate 0..1 | --fail-every N] [--fail-status CODE] [--otlp http://HOST:PORT]',
    summary: 'test server: HTTP/1.1 (+WebSocket) and h2c answer what they saw as JSON (?status=, ?delay=, ?body-delay=, x-echo-set-header), gRPC echo with health and reflection, TCP echoes',
    load: async () => (await import('./workload.js')).workloadEcho,
  },
  {
    words: ['workload', 'banner'],
    usage: 'nodemesh workload banner --tcp PORT [--text TEXT]',
    summary: 'server-first TCP test server: greets "220 <pod> ..." on accept (as SMTP), then echoes lines; QUIT closes',
    load: async () => (await import('./workload-banner.js')).workloadBanner,
  },
  {
    words: ['workload', 'get'],
    usage: 'nodemesh workload get URL [--count N] [--timeout-ms T]',
    summary: 'HTTP GET, one JSON line per response ({status, body, ms}); exit 1 on a transport error',
    load: async () => (await import('./workload.js')).workloadGet,
  },
  {
    words: ['workload', 'load'],
    usage: "nodemesh workload load URL --count N [--concurrency C] [--header 'Name: value']... [--method M] [--timeout-ms T]",
    summary: "keep-alive HTTP/1.1 load: one JSON line with counts by status and by the echo's version (or pod), errors, latency percentiles",
    load: async () => (await import('./workload-load.js')).workloadLoad,
  },
  {
    words: ['controller'],
    usage: 'nodemesh controller (--manifests DIR --node-tokens FILE | --kubeconfig FILE | --in-cluster) [--token-audience AUD] [--grpc-port PORT] [--admin-port PORT] [--admin-socket PATH] [--trust-domain DOMAIN] [--default-inbound-policy all-unauthenticated|all-authenticated|cluster-authenticated|deny] [--trace-collector HOST:PORT] [--ca-dir DIR | --ca-secret NS/NAME [--ca-generate]] [--cert-ttl 24h] [--ca-rotate] [--ca-remove-old-anchors] [--ui-port PORT|-1] [--ui-socket PATH] [--user-tokens FILE | --user-auth kubernetes]',
    summary: 'run the controller: watch the cluster, stream each agent its node view over gRPC (15012), admin on 15014, web UI and insight API on 8084',
    load: async () => (await import('./controller.js')).controllerRun,
  },
  {
    words: ['agent', 'cleanup'],
    usage: 'nodemesh agent cleanup --pin-dir DIR [--routing]',
    summary: "uninstall a node's BPF state: remove its pins (links detach, maps are freed); --routing also removes its policy routing",
    load: async () => (await import('./agent.js')).agentCleanup,
  },
  {
    words: ['agent'],
    usage: 'nodemesh agent --node NAME (--controller HOST:PORT --token-file FILE [--state-dir DIR] | --manifests DIR) [--pin-dir DIR] [--admin-port PORT] [--admin-socket PATH]',
    summary: 'run the node agent (capture, node proxy, admin) until SIGTERM/SIGINT; pins stay for a restart',
    load: async () => (await import('./agent.js')).agentRun,
  },
  {
    words: ['identity', 'show'],
    usage: 'nodemesh identity show (--node NODE [--cluster ID] | --admin http://HOST:15020) [-o json]',
    summary: "list a node's workload identities: SPIFFE ID, certificate serial, expiry, state (never keys)",
    load: async () => (await import('./identity.js')).identityShow,
  },
  {
    words: ['stat'],
    usage: 'nodemesh stat [workload|service|route] [NAME] [-n NAMESPACE] [--from NS/WORKLOAD] [--window 30s] [-o json] [--cluster ID | --controller http://HOST:8084 [--token T]]',
    summary: 'golden metrics per workload, Service or route over a window: success rate, RPS, p50/p95/p99 latency, TCP connections and bytes',
    load: async () => (await import('./insight.js')).statCmd,
  },
  {
    words: ['tap'],
    usage: 'nodemesh tap NAMESPACE[/WORKLOAD] [--method M] [--path PREFIX] [--max-rps N] [--count N] [--duration 10s] [-o json] [--cluster ID | --controller URL [--token T]]',
    summary: 'live stream of request metadata (method, authority, path, status, latency, identities; never bodies) from or to a workload',
    load: async () => (await import('./insight.js')).tapCmd,
  },
  {
    words: ['explain'],
    usage: 'nodemesh explain NAMESPACE/POD [DESTINATION:PORT] [--method M] [--path P] [--header "N: v"]... [-o json] [--cluster ID | --controller URL [--token T]]',
    summary: 'why a pod is or is not meshed; with a destination (IP, NS/POD or NS/SERVICE with :PORT), the path, route, backend and policy a connection gets',
    load: async () => (await import('./insight.js')).explainCmd,
  },
  {
    words: ['dashboard'],
    usage: 'nodemesh dashboard [--port 8084] [--cluster ID]',
    summary: "open the controller's web UI of the running simulated cluster on http://127.0.0.1:PORT (a port-forward) until Ctrl-C",
    load: async () => (await import('./insight.js')).dashboardCmd,
  },
  {
    words: ['demo'],
    usage: 'nodemesh demo [--manifests DIR]',
    summary: 'bring up the example cluster with agents, show meshed and unmeshed traffic and metrics, tear down',
    load: async () => (await import('./demo.js')).demo,
  },
  {
    words: ['demo', 'traffic'],
    usage: 'nodemesh demo traffic [--manifests DIR]',
    summary: "bring up examples/demo-traffic, show the seeds' L7 cases with counts (canary 10 %, iPhone → v2, Marketing's half, a retry hiding a flaky endpoint) and the golden metrics, tear down",
    load: async () => (await import('./demo-traffic.js')).demoTraffic,
  },
];

export function usageOf(words: readonly string[]): string {
  return COMMANDS.find((c) => c.words.join(' ') === words.join(' '))?.usage ?? 'nodemesh --help';
}

/** The command whose words prefix argv the longest, and the arguments after them. */
export function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => argv[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best ? { command: best, rest: argv.slice(best.words.length) } : undefined;
}

export function helpText(): string {
  const w = Math.max(...COMMANDS.map((c) => c.words.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.words.join(' ').padEnd(w)}  ${c.summary}`);
  const usages = COMMANDS.map((c) => `  ${c.usage}`);
  return [
    'nodemesh — a sidecarless service mesh (eBPF capture, a shared node proxy)',
    '',
    'commands:',
    ...lines,
    '',
    'usage:',
    ...usages,
    '',
    'Errors print as MESH_ERR_*: message (docs/errors.md lists every code and its fix).',
  ].join('\n');
}
