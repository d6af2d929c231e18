// The bench's rig inside a built cluster: sockperf, iperf3 and echo servers in the server pods, the
// HAProxy instances (a plain TCP pair and a mutual-TLS 1.3 pair, one of each per node, with stats
// sockets), TIME_WAIT reuse for the connection cell, every contender's targets, and the readers of
// the TLS handshake counters (the agents' pool dials and TCP accepts, HAProxy's SSL stats).

import type { Handshakes, Proxied, Target } from './cells.js';
import { haproxyCommand, relayPort, startHaproxy, type Forward, type HaproxyProcess } from './haproxy.js';
import { haproxySsl, parseHaproxyStat, snmpTcp } from './parse-conn.js';
import { alive } from './procstat.js';
import { makeTlsMaterial } from './tls.js';
import type { BenchTools } from './tools.js';
import type * as SimModule from '../sim/index.js';

export const SOCKPERF_PORT = 11111;
export const IPERF_PORT = 5201;
/** the echo port stays small so its relay ports (20007, 30007, 10007) are below the ephemeral range */
export const ECHO_PORT = 7;
const PORTS = [SOCKPERF_PORT, IPERF_PORT, ECHO_PORT] as const;
const SERVERS = ['bench-plain/server-a', 'bench-plain/server-b', 'bench-mesh/server-a', 'bench-mesh/server-b'] as const;
const CLIENTS = ['bench-plain/client', 'bench-mesh/client'] as const;

export type Cluster = Awaited<ReturnType<(typeof SimModule)['SimCluster']['up']>>;

export class Abort extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Owned { readonly pid: number; stop(): Promise<void> }

export interface Rig {
  readonly targets: readonly Target[];
  readonly haproxies: readonly HaproxyProcess[];
  readonly proxies: Readonly<Record<Proxied, readonly number[]>>;
  handshakes(t: Target): Promise<Handshakes | undefined>;
}

export async function waitListening(list: () => Promise<string>, ports: readonly number[], what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const out = await list();
    const missing = ports.filter((p) => !new RegExp(`:${p}\\s`).test(out));
    if (missing.length === 0) return;
    if (Date.now() - t0 > timeoutMs) throw new Abort(`${what} does not listen on ${missing.join(', ')} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The HAProxy forwards of each instance (pure; exported for the tests). */
export function forwards(ips: { gatewayA: string; uplinkB: string; plainA: string; plainB: string }, tls: { caPem: string; certA: string; certB: string }): Record<'plainA' | 'plainB' | 'tlsA' | 'tlsB', Forward[]> {
  const out = { plainA: [] as Forward[], plainB: [] as Forward[], tlsA: [] as Forward[], tlsB: [] as Forward[] };
  for (const [tool, port] of [['sockperf', SOCKPERF_PORT], ['iperf', IPERF_PORT], ['echo', ECHO_PORT]] as const) {
    out.plainA.push({ name: `same-${tool}`, bind: `${ips.gatewayA}:${relayPort('same', port)}`, target: `${ips.plainA}:${port}` });
    out.plainA.push({ name: `cross-${tool}`, bind: `${ips.gatewayA}:${relayPort('cross', port)}`, target: `${ips.uplinkB}:${relayPort('cross', port)}` });
    out.plainB.push({ name: `cross-${tool}`, bind: `${ips.uplinkB}:${relayPort('cross', port)}`, target: `${ips.plainB}:${port}` });
    const p = relayPort('tls', port);
    out.tlsA.push({ name: `tls-${tool}`, bind: `${ips.gatewayA}:${p}`, target: `${ips.uplinkB}:${p}`, tls: { mode: 'connect', certKeyPem: tls.certA, caPem: tls.caPem, verifyHost: 'node-b' } });
    out.tlsB.push({ name: `tls-${tool}`, bind: `${ips.uplinkB}:${p}`, target: `${ips.plainB}:${port}`, tls: { mode: 'accept', certKeyPem: tls.certB, caPem: tls.caPem } });
  }
  return out;
}

/** Starts everything the cells need; every process goes into `mine` as soon as it exists. */
export async function startRig(cl: Cluster, sim: typeof SimModule, tmp: string, tools: BenchTools | undefined, mine: Owned[], log: (m: string) => void): Promise<Rig> {
  for (const key of SERVERS) {
    const argvs: string[][] = [['sockperf', 'server', '--tcp', '-p', String(SOCKPERF_PORT)], ['iperf3', '-s', '-p', String(IPERF_PORT)]];
    if (tools) argvs.push([tools.echo, String(ECHO_PORT)]);
    for (const argv of argvs) {
      const p = cl.spawnInPod(key, argv);
      mine.push({ pid: p.pid, stop: async () => { p.kill('SIGTERM'); await Promise.race([p.done, sleep(3000)]); p.kill('SIGKILL'); } });
    }
  }
  const ports = tools ? PORTS : PORTS.filter((p) => p !== ECHO_PORT);
  await Promise.all(SERVERS.map((key) => waitListening(async () => (await cl.exec(key, ['ss', '-Hltn'])).stdout, ports, `servers in ${key}`)));

  // the connection cell closes tens of thousands of connections per cell: let connect() reuse
  // TIME_WAIT ports (they are per netns; these namespaces go with the cluster)
  for (const key of CLIENTS) await cl.exec(key, ['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1']);
  for (const node of ['node-a', 'node-b']) await cl.execNode(node, ['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1']);

  const nodeA = cl.node('node-a');
  const nodeB = cl.node('node-b');
  const plainA = cl.pod('bench-plain/server-a').ip;
  const plainB = cl.pod('bench-plain/server-b').ip;
  const certs = makeTlsMaterial(tmp, ['node-a', 'node-b']);
  log(`TLS material for HAProxy-TLS in ${tmp} (P-256 CA, leaves node-a/node-b)`);
  const f = forwards({ gatewayA: nodeA.gateway, uplinkB: nodeB.uplinkIp, plainA, plainB }, { caPem: certs.caPem, certA: certs.certKeyPem['node-a']!, certB: certs.certKeyPem['node-b']! });
  const sock = (name: string): string => `${tmp}/${name}.stats.sock`;
  const specs = [
    { node: nodeA, name: 'node-a', fw: f.plainA },
    { node: nodeB, name: 'node-b', fw: f.plainB },
    { node: nodeA, name: 'node-a-tls', fw: f.tlsA },
    { node: nodeB, name: 'node-b-tls', fw: f.tlsB },
  ];
  const haproxies: HaproxyProcess[] = [];
  for (const s of specs) {
    const h = startHaproxy(sim.netnsPath(s.node.netns), s.node.name, tmp, s.fw, { threads: 2, statsSocket: sock(s.name) }, s.name);
    mine.push(h);
    haproxies.push(h);
  }
  for (const [i, s] of specs.entries()) {
    const h = haproxies[i]!;
    await waitListening(async () => {
      if (!alive(h.pid)) throw new Abort(`HAProxy ${s.name} exited: ${h.output().trim()}`);
      return (await cl.execNode(h.node, ['ss', '-Hltn'])).stdout;
    }, s.fw.map((x) => Number(x.bind.split(':')[1])), `HAProxy ${s.name}`);
  }

  const targets: Target[] = [];
  for (const p of ['same', 'cross'] as const) {
    const server = p === 'same' ? 'server-a' : 'server-b';
    const hops = p === 'same' ? 1 : 2;
    const own = { sockperfPort: SOCKPERF_PORT, iperfPort: IPERF_PORT, echoPort: ECHO_PORT };
    const relayed = { sockperfPort: relayPort(p, SOCKPERF_PORT), iperfPort: relayPort(p, IPERF_PORT), echoPort: relayPort(p, ECHO_PORT) };
    targets.push({ contender: 'direct', path: p, hops: 0, client: 'bench-plain/client', ip: cl.pod(`bench-plain/${server}`).ip, ...own });
    targets.push({ contender: 'nodemesh', path: p, hops, client: 'bench-mesh/client', ip: cl.pod(`bench-mesh/${server}`).ip, ...own });
    targets.push({ contender: 'haproxy', path: p, hops, client: 'bench-plain/client', ip: nodeA.gateway, ...relayed });
  }
  targets.push({ contender: 'haproxy-tls', path: 'cross', hops: 2, client: 'bench-plain/client', ip: nodeA.gateway,
    sockperfPort: relayPort('tls', SOCKPERF_PORT), iperfPort: relayPort('tls', IPERF_PORT), echoPort: relayPort('tls', ECHO_PORT) });

  const sslOf = async (name: string, kind: 'server' | 'frontend') => haproxySsl(parseHaproxyStat(await haproxyCommand(sock(name), 'show stat')), kind);
  const handshakes = async (t: Target): Promise<Handshakes | undefined> => {
    if (t.path !== 'cross') return undefined;
    try {
      if (t.contender === 'haproxy-tls') {
        const a = await sslOf('node-a-tls', 'server');
        const b = await sslOf('node-b-tls', 'frontend');
        return { client: a.full + a.resumed, server: b.full + b.resumed, clientResumed: a.resumed, serverResumed: b.resumed };
      }
      if (t.contender === 'nodemesh') {
        // client: the HBONE pools' dials (each one TLS handshake, no resumption); server: TCP
        // connections node-b's netns accepted (only the :15008 listener accepts in this cell)
        let dials = 0;
        for (const node of ['node-a', 'node-b']) {
          const dump = JSON.parse((await cl.agentGet(node, '/config_dump')).body) as { proxy?: { tunnelConnectionsOpened?: number } };
          dials += dump.proxy?.tunnelConnectionsOpened ?? NaN;
        }
        const accepts = snmpTcp((await cl.execNode('node-b', ['cat', '/proc/net/snmp'])).stdout, 'PassiveOpens');
        return Number.isFinite(dials) ? { client: dials, server: accepts, clientResumed: 0 } : undefined;
      }
    } catch (e) {
      log(`handshake counters of ${t.contender} unreadable: ${(e as Error).message}`);
    }
    return undefined;
  };

  const agentPids = [cl.agentPid('node-a'), cl.agentPid('node-b')];
  return {
    targets, haproxies, handshakes,
    proxies: { nodemesh: agentPids, haproxy: [haproxies[0]!.pid, haproxies[1]!.pid], 'haproxy-tls': [haproxies[2]!.pid, haproxies[3]!.pid] },
  };
}
