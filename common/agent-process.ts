// How the node agent's process is started wherever nodemesh starts it (the simulated cluster, the
// DaemonSet in deploy/base and the Helm chart; test/unit/cli/deploy-args.test.ts keeps them equal):
// V8 flags and environment that keep an idle agent small (bench/README.md, "Agent footprint").

/** V8 flags: smaller heap growth steps, and GC on the main thread (no parallel marking buffers). */
export const AGENT_NODE_FLAGS: readonly string[] = ['--optimize-for-size', '--single-threaded-gc'];

/** glibc: two malloc arenas instead of eight per core for the tokio and libuv threads. */
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The image's entry script (deploy/Dockerfile WORKDIR /opt/nodemesh). */
export const IMAGE_CLI = '/opt/nodemesh/bin/nodemesh.js';
