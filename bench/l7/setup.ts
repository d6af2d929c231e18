// The L7 bench's rig inside a built cluster: nginx in the four server pods (1 KB answers, HTTP/1.1
// on 8080 and h2c on 8081; the pods' own process is the banner on 2525), the nginx reverse-proxy
// contenders (a plain pair and a mutual-TLS 1.3 pair, one instance per node), and every
// contender's targets: direct to the pods, nodemesh through the Service VIPs, nginx on node-a.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { alive } from '../procstat.js';
import { Abort, waitListening, type Cluster, type Owned } from '../setup.js';
import { makeTlsMaterial } from '../tls.js';
import { childPids, proxyConfig, serverConfig, startNginx, type NginxForward, type NginxProcess } from './nginx.js';
import type * as SimModule from '../../sim/index.js';

export type L7Contender = 'direct' | 'nodemesh-l7' | 'nodemesh-l4' | 'nginx' | 'nginx-tls';
export type L7Proxied = 'nodemesh' | 'nginx' | 'nginx-tls';
export type PathKind = 'same' | 'cross';

export const L7_CONTENDERS: readonly L7Contender[] = ['direct', 'nodemesh-l7', 'nodemesh-l4', 'nginx', 'nginx-tls'];
export const PATHS: readonly PathKind[] = ['same', 'cross'];

/** whose processes carry a contender's traffic (both nodemesh contenders are the agents) */
export function proxiedOf(c: L7Contender): L7Proxied | undefined {
  return c === 'direct' ? undefined : c.startsWith('nodemesh') ? 'nodemesh' : (c as L7Proxied);
}

export const H1_PORT = 8080;
export const H2_PORT = 8081;
export const BANNER_PORT = 2525;
/** the mesh Services' VIPs (bench/manifests/l7/bench-l7.yaml) */
export const VIP = { same: '10.96.30.1', cross: '10.96.30.2' } as const;
/** Service ports: detected (HTTP becomes L7) and opaque (appProtocol tcp) */
export const MESH_PORTS = { l7: { h1: 80, h2: 81, banner: 25 }, l4: { h1: 90, h2: 91, banner: 26 } } as const;

export interface L7Target {
  readonly contender: L7Contender;
  readonly path: PathKind;
  readonly hops: number;
  readonly client: string;
  readonly ip: string;
  readonly h1Port: number;
  readonly h2Port: number;
  /** the server-first banner (only direct and nodemesh: nginx is an HTTP proxy) */
  readonly bannerPort?: number;
}

export interface L7Rig {
  readonly targets: readonly L7Target[];
  readonly nginxes: readonly NginxProcess[];
  /** pids per proxied contender (nginx: masters and workers) */
  readonly proxies: Readonly<Record<L7Proxied, readonly number[]>>;
}

const SERVERS = ['bench-plain/server-a', 'bench-plain/server-b', 'bench-mesh/server-a', 'bench-mesh/server-b'] as const;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The nginx contenders' forwards (pure; exported for the tests). */
export function nginxForwards(ips: { gatewayA: string; uplinkB: string; serverA: string; serverB: string },
  tls: { ca: string; certA: string; keyA: string; certB: string; keyB: string }): Record<'a' | 'b' | 'aTls' | 'bTls', NginxForward[]> {
  const a = `${ips.serverA}:${H1_PORT}`;
  const b = `${ips.serverB}:${H1_PORT}`;
  return {
    a: [
      { name: 'same_h1', bind: `${ips.gatewayA}:28080`, target: a },
      { name: 'same_h2', bind: `${ips.gatewayA}:28081`, target: a, h2c: true },
      { name: 'cross_h1', bind: `${ips.gatewayA}:38080`, target: `${ips.uplinkB}:38080` },
      { name: 'cross_h2', bind: `${ips.gatewayA}:38081`, target: `${ips.uplinkB}:38080`, h2c: true },
    ],
    b: [{ name: 'cross_h1', bind: `${ips.uplinkB}:38080`, target: b }],
    aTls: [
      { name: 'tls_h1', bind: `${ips.gatewayA}:18080`, target: `${ips.uplinkB}:18443`, tls: { mode: 'connect', cert: tls.certA, key: tls.keyA, ca: tls.ca, verifyName: 'node-b' } },
      { name: 'tls_h2', bind: `${ips.gatewayA}:18081`, target: `${ips.uplinkB}:18443`, h2c: true, tls: { mode: 'connect', cert: tls.certA, key: tls.keyA, ca: tls.ca, verifyName: 'node-b' } },
    ],
    bTls: [{ name: 'tls_in', bind: `${ips.uplinkB}:18443`, target: b, tls: { mode: 'accept', cert: tls.certB, key: tls.keyB, ca: tls.ca } }],
  };
}

/** Starts the servers and the nginx contenders; every process goes into `mine` as soon as it exists. */
export async function startL7Rig(cl: Cluster, sim: typeof SimModule, tmp: string, bodyBytes: number, mine: Owned[], log: (m: string) => void): Promise<L7Rig> {
  for (const key of SERVERS) {
    const dir = path.join(tmp, `server-${key.replace('/', '-')}`);
    mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, serverConfig(dir, H1_PORT, H2_PORT, bodyBytes));
    const p = cl.spawnInPod(key, ['nginx', '-c', conf, '-p', dir]);
    mine.push({ pid: p.pid, stop: async () => { p.kill('SIGTERM'); await Promise.race([p.done, sleep(3000)]); p.kill('SIGKILL'); } });
  }
  await Promise.all(SERVERS.map((key) => waitListening(async () => (await cl.exec(key, ['ss', '-Hltn'])).stdout, [H1_PORT, H2_PORT, BANNER_PORT], `nginx and the banner in ${key}`)));

  const nodeA = cl.node('node-a');
  const nodeB = cl.node('node-b');
  const certs = makeTlsMaterial(tmp, ['node-a', 'node-b']);
  const crt = (n: string): string => certs.certKeyPem[n]!.replace(/\.pem$/, '.crt');
  const key = (n: string): string => certs.certKeyPem[n]!.replace(/\.pem$/, '.key');
  const f = nginxForwards({ gatewayA: nodeA.gateway, uplinkB: nodeB.uplinkIp, serverA: cl.pod('bench-plain/server-a').ip, serverB: cl.pod('bench-plain/server-b').ip },
    { ca: certs.caPem, certA: crt('node-a'), keyA: key('node-a'), certB: crt('node-b'), keyB: key('node-b') });
  const specs = [
    { node: nodeA, name: 'nginx-a', fw: f.a },
    { node: nodeB, name: 'nginx-b', fw: f.b },
    { node: nodeA, name: 'nginx-a-tls', fw: f.aTls },
    { node: nodeB, name: 'nginx-b-tls', fw: f.bTls },
  ];
  const nginxes: NginxProcess[] = [];
  for (const s of specs) {
    const dir = path.join(tmp, s.name);
    mkdirSync(dir, { recursive: true });
    const n = startNginx(sim.netnsPath(s.node.netns), s.name, dir, proxyConfig(dir, s.fw, 2, `nodemesh bench:l7: ${s.name} on ${s.node.name}`));
    mine.push({ pid: n.pid, stop: () => n.stop() });
    nginxes.push(n);
  }
  for (const [i, s] of specs.entries()) {
    const n = nginxes[i]!;
    await waitListening(async () => {
      if (!alive(n.pid)) throw new Abort(`nginx ${s.name} exited: ${n.output().trim().slice(-400)}`);
      return (await cl.execNode(s.node.name, ['ss', '-Hltn'])).stdout;
    }, s.fw.map((x) => Number(x.bind.split(':')[1])), `nginx ${s.name}`);
  }
  log(`nginx contenders up (${nginxes.map((n) => `${n.name} pid ${n.pid}`).join(', ')}); TLS material in ${tmp}`);
  // the master and its workers (two each); the workers are stable for the run (no reloads)
  const pidsOf = (list: NginxProcess[]): number[] => list.flatMap((n) => [n.pid, ...childPids(n.pid)]);

  const targets: L7Target[] = [];
  for (const p of PATHS) {
    const server = p === 'same' ? 'server-a' : 'server-b';
    const hops = p === 'same' ? 1 : 2;
    targets.push({ contender: 'direct', path: p, hops: 0, client: 'bench-plain/client', ip: cl.pod(`bench-plain/${server}`).ip, h1Port: H1_PORT, h2Port: H2_PORT, bannerPort: BANNER_PORT });
    targets.push({ contender: 'nodemesh-l7', path: p, hops, client: 'bench-mesh/client', ip: VIP[p], h1Port: MESH_PORTS.l7.h1, h2Port: MESH_PORTS.l7.h2, bannerPort: MESH_PORTS.l7.banner });
    targets.push({ contender: 'nodemesh-l4', path: p, hops, client: 'bench-mesh/client', ip: VIP[p], h1Port: MESH_PORTS.l4.h1, h2Port: MESH_PORTS.l4.h2, bannerPort: MESH_PORTS.l4.banner });
    const base = p === 'same' ? 28080 : 38080;
    targets.push({ contender: 'nginx', path: p, hops, client: 'bench-plain/client', ip: nodeA.gateway, h1Port: base, h2Port: base + 1 });
  }
  targets.push({ contender: 'nginx-tls', path: 'cross', hops: 2, client: 'bench-plain/client', ip: nodeA.gateway, h1Port: 18080, h2Port: 18081 });
  return {
    targets, nginxes,
    proxies: { nodemesh: [cl.agentPid('node-a'), cl.agentPid('node-b')], nginx: pidsOf(nginxes.slice(0, 2)), 'nginx-tls': pidsOf(nginxes.slice(2)) },
  };
}
