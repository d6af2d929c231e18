// `npm run bench`: builds the two-node bench cluster, starts sockperf/iperf3 servers and HAProxy,
// then runs every cell for direct, nodemesh and HAProxy interleaved over rounds, prints the tables
// and writes bench/results/latest.{json,md}. Everything it starts is stopped on exit or signal.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENDERS, PATHS, runCell, type CellContext, type CellKind, type Sample, type Target } from './cells.js';
import { build, cpuTicks, load, loadavg, machine, otherClusters, profile, readConfig, type BenchConfig, type Load } from './env.js';
import { relayPort, startHaproxy, type Forward, type HaproxyProcess } from './haproxy.js';
import { promSum } from './parse.js';
import { alive } from './procstat.js';
import { renderTables } from './render.js';
import { summarize } from './summary.js';
// types only: the module itself is imported after NODEMESH_ADDON is set (see the snapshot below)
import type * as SimModule from '../sim/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOCKPERF_PORT = 11111;
const IPERF_PORT = 5201;
const SERVERS = ['bench-plain/server-a', 'bench-plain/server-b', 'bench-mesh/server-a', 'bench-mesh/server-b'] as const;

const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Abort extends Error {}

type Sim = typeof SimModule;
type Cluster = Awaited<ReturnType<Sim['SimCluster']['up']>>;
type PodProc = ReturnType<Cluster['spawnInPod']>;

async function waitListening(list: () => Promise<string>, ports: readonly number[], what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const out = await list();
    const missing = ports.filter((p) => !new RegExp(`:${p}\\s`).test(out));
    if (missing.length === 0) return;
    if (Date.now() - t0 > timeoutMs) throw new Abort(`${what} does not listen on ${missing.join(', ')} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

function describe(s: Sample): string {
  const cpu = s.proxyCpuSeconds !== undefined ? ` proxy cpu ${s.proxyCpuSeconds.toFixed(2)} s` : '';
  const cap = s.meshOpened !== undefined ? ` captured ${s.meshOpened} conn` : '';
  if (s.error) return `FAILED: ${s.error}`;
  if (s.kind === 'stream') return `${s.gbps!.toFixed(2)} Gbit/s${cpu}${cap}`;
  const rate = s.kind === 'pingpong' ? ` ${Math.round(s.rate!)} rt/s` : '';
  return `p50 ${s.p50!.toFixed(1)} p99 ${s.p99!.toFixed(1)} p99.9 ${s.p999!.toFixed(1)} µs${rate}${cpu}${cap}`;
}

async function main(): Promise<number> {
  const cfg: BenchConfig = readConfig(process.env);
  if (process.getuid?.() !== 0) { log('needs root (network namespaces, BPF): run as root'); return 1; }
  const t0 = Date.now();
  const tmp = mkdtempSync(path.join(tmpdir(), 'nodemesh-bench-'));
  const mine: { pid: number; stop(): Promise<void> }[] = [];
  process.on('exit', () => {
    for (const p of mine) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(tmp, { recursive: true, force: true });
  });

  let addon = path.join(ROOT, 'native', 'nodemesh.node');
  let bpfObject = path.join(ROOT, 'build', 'bpf', 'tc_steer.bpf.o');
  if (cfg.snapshot) {
    // the agents load these; a copy keeps a concurrent `npm run build` from swapping them mid-run
    const a = path.join(tmp, 'nodemesh.node');
    const b = path.join(tmp, 'tc_steer.bpf.o');
    copyFileSync(addon, a);
    copyFileSync(bpfObject, b);
    addon = a;
    bpfObject = b;
    process.env.NODEMESH_ADDON = a;
    process.env.NODEMESH_BPF_OBJECT = b;
  }
  const buildInfo = build(ROOT, addon, bpfObject);
  const machineInfo = machine();
  log(`config ${JSON.stringify(cfg)}; build ${JSON.stringify(buildInfo)}`);
  const sim: Sim = await import('../sim/index.js');
  const before: Load = await load(2000);
  log(`machine before the run: ${(before.busy * 100).toFixed(0)} % busy, loadavg ${before.loadavg}, other clusters: ${before.otherClusters.join(', ') || 'none'}`);
  if (before.busy > 0.1 || before.otherClusters.length) log('WARNING: something else runs on this machine; the numbers will be noisier than they need to be');
  // what else ran during the rounds: other clusters seen between cells, hypervisor steal
  const seen = new Set<string>();
  let during: { steal: number; loadavgEnd: string; otherClusters: string[] } | undefined;

  let c: Cluster | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      await Promise.all(mine.map((p) => p.stop().catch(() => undefined)));
      mine.length = 0;
      const report = await c?.down().catch((e: unknown) => { log(`teardown: ${(e as Error).message}`); return undefined; });
      if (report) log(`teardown: ${report.netns.length} netns, ${report.pinDirs.length} pin dir(s), ${report.processes} process(es) removed`);
      rmSync(tmp, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping and tearing down`);
    void cleanup().finally(() => process.exit(128 + (constants.signals[sig] ?? 0)));
  };

  const samples: Sample[] = [];
  let aborted: string | undefined;
  let profiles: Record<string, string> = {};
  try {
    c = await sim.SimCluster.up({ manifestsDir: path.join(ROOT, 'bench', 'manifests'), agents: true, watch: false, onProgress: (m) => log(m) });
    const cl = c;
    cl.handleSignals(false);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    // servers: sockperf and iperf3 in each server pod
    for (const key of SERVERS) {
      for (const argv of [['sockperf', 'server', '--tcp', '-p', String(SOCKPERF_PORT)], ['iperf3', '-s', '-p', String(IPERF_PORT)]]) {
        const p: PodProc = cl.spawnInPod(key, argv);
        mine.push({ pid: p.pid, stop: async () => { p.kill('SIGTERM'); await Promise.race([p.done, sleep(3000)]); p.kill('SIGKILL'); } });
      }
    }
    await Promise.all(SERVERS.map((key) => waitListening(async () => (await cl.exec(key, ['ss', '-Hltn'])).stdout, [SOCKPERF_PORT, IPERF_PORT], `servers in ${key}`)));

    // HAProxy: node-a relays same-node ports to plain/server-a and cross-node ports to node-b's HAProxy
    const nodeA = cl.node('node-a');
    const nodeB = cl.node('node-b');
    const plainA = cl.pod('bench-plain/server-a').ip;
    const plainB = cl.pod('bench-plain/server-b').ip;
    const fwdA: Forward[] = [];
    const fwdB: Forward[] = [];
    for (const [tool, port] of [['sockperf', SOCKPERF_PORT], ['iperf', IPERF_PORT]] as const) {
      fwdA.push({ name: `same-${tool}`, bind: `${nodeA.gateway}:${relayPort('same', port)}`, target: `${plainA}:${port}` });
      fwdA.push({ name: `cross-${tool}`, bind: `${nodeA.gateway}:${relayPort('cross', port)}`, target: `${nodeB.uplinkIp}:${relayPort('cross', port)}` });
      fwdB.push({ name: `cross-${tool}`, bind: `${nodeB.uplinkIp}:${relayPort('cross', port)}`, target: `${plainB}:${port}` });
    }
    const haproxies: HaproxyProcess[] = [
      startHaproxy(sim.netnsPath(nodeA.netns), 'node-a', tmp, fwdA, { threads: 2 }),
      startHaproxy(sim.netnsPath(nodeB.netns), 'node-b', tmp, fwdB, { threads: 2 }),
    ];
    for (const h of haproxies) mine.push(h);
    for (const [h, f] of [[haproxies[0]!, fwdA], [haproxies[1]!, fwdB]] as const) {
      await waitListening(async () => {
        if (!alive(h.pid)) throw new Abort(`HAProxy on ${h.node} exited: ${h.output().trim()}`);
        return (await cl.execNode(h.node, ['ss', '-Hltn'])).stdout;
      }, f.map((x) => Number(x.bind.split(':')[1])), `HAProxy on ${h.node}`);
    }

    const agentPids = [cl.agentPid('node-a'), cl.agentPid('node-b')];
    const haPids = haproxies.map((h) => h.pid);
    const targets: Target[] = [];
    for (const p of PATHS) {
      const server = p === 'same' ? 'server-a' : 'server-b';
      const hops = p === 'same' ? 1 : 2;
      targets.push({ contender: 'direct', path: p, hops: 0, client: 'bench-plain/client', ip: cl.pod(`bench-plain/${server}`).ip, sockperfPort: SOCKPERF_PORT, iperfPort: IPERF_PORT });
      targets.push({ contender: 'nodemesh', path: p, hops, client: 'bench-mesh/client', ip: cl.pod(`bench-mesh/${server}`).ip, sockperfPort: SOCKPERF_PORT, iperfPort: IPERF_PORT });
      targets.push({ contender: 'haproxy', path: p, hops, client: 'bench-plain/client', ip: nodeA.gateway, sockperfPort: relayPort(p, SOCKPERF_PORT), iperfPort: relayPort(p, IPERF_PORT) });
    }
    const ctx: CellContext = {
      cfg,
      proxies: { nodemesh: agentPids, haproxy: haPids },
      exec: (pod, argv, timeoutMs) => cl.exec(pod, argv, { timeoutMs }),
      meshOpens: async () => {
        try {
          let n = 0;
          for (const node of ['node-a', 'node-b']) n += promSum((await cl.agentGet(node, '/metrics')).body, 'tcp_open_total');
          return n;
        } catch {
          return undefined;
        }
      },
    };
    const checkAgents = (): void => {
      for (const [i, pid] of agentPids.entries()) {
        if (!alive(pid)) throw new Abort(`the agent of ${i === 0 ? 'node-a' : 'node-b'} (pid ${pid}) died; its log is ${cl.node(i === 0 ? 'node-a' : 'node-b').agentLog}`);
      }
      for (const h of haproxies) if (!alive(h.pid)) throw new Abort(`HAProxy on ${h.node} (pid ${h.pid}) died: ${h.output().trim().slice(-300)}`);
    };

    // a 1-second ping-pong through every path: proves each works (and that nodemesh captures) before measuring
    for (const t of targets) {
      const s = await runCell({ ...ctx, cfg: { ...cfg, pingpongSeconds: 1 } }, 'pingpong', t, -1);
      log(`check ${t.contender.padEnd(8)} ${t.path.padEnd(5)} ${describe(s)}`);
      if (t.contender === 'nodemesh' && !s.error && s.meshOpened === 0) log('WARNING: the nodemesh path opened no proxied connection: the traffic was NOT captured');
    }
    checkAgents();

    const ticks0 = cpuTicks();
    const kinds: CellKind[] = cfg.pingpongSeconds > 0 ? ['latency', 'pingpong', 'stream'] : ['latency', 'stream'];
    try {
      for (let r = 0; r < cfg.rounds; r++) {
        // the contender order rotates each round (A B C, B C A, C A B) so no one always goes first
        const order = CONTENDERS.map((_, i) => CONTENDERS[(i + r) % CONTENDERS.length]!);
        for (const kind of kinds) {
          for (const p of PATHS) {
            for (const who of order) {
              const t = targets.find((x) => x.contender === who && x.path === p)!;
              const s = await runCell(ctx, kind, t, r);
              samples.push(s);
              log(`round ${r + 1}/${cfg.rounds} ${kind.padEnd(8)} ${p.padEnd(5)} ${who.padEnd(8)} ${describe(s)}`);
              checkAgents();
              for (const id of otherClusters(cl.clusterId)) seen.add(id);
            }
          }
        }
      }
      const ticks1 = cpuTicks();
      during = { steal: (ticks1.steal - ticks0.steal) / Math.max(1, ticks1.total - ticks0.total), loadavgEnd: loadavg(), otherClusters: [...seen] };
      if (cfg.profile) {
        for (const who of ['nodemesh', 'haproxy'] as const) {
          const t = targets.find((x) => x.contender === who && x.path === 'cross')!;
          const prof = profile(ctx.proxies[who], Math.max(1, cfg.seconds - 1), path.join(tmp, `perf-${who}.data`));
          const s = await runCell(ctx, 'stream', t, -1);
          const text = await prof;
          log(`profile ${who} cross-node stream: ${describe(s)}`);
          if (text) profiles = { ...profiles, [`${who}-stream-cross`]: `${describe(s)}\n${text}` };
        }
      }
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      aborted = e.message;
      log(`ABORTED: ${aborted}`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }

  const summary = summarize(samples, cfg.rounds);
  const facts = { rate: cfg.rate, msgSize: cfg.msgSize, seconds: cfg.seconds, pingpongSeconds: cfg.pingpongSeconds };
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const meta = {
    startedAt: new Date(t0).toISOString(), durationSeconds: Math.round((Date.now() - t0) / 1000), config: cfg, machine: machineInfo, build: buildInfo,
    loadBefore: before, ...(during ? { loadDuring: during } : {}), ...(aborted ? { aborted } : {}),
  };
  const others = [...new Set([...before.otherClusters, ...(during?.otherClusters ?? [])])];
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify({ meta, summary, samples, profiles }, null, 2)}\n`);
  const m = machineInfo;
  const header = [
    `Run ${meta.startedAt}, ${meta.durationSeconds} s; ${m.nproc} vCPU ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}; ${m.tools.haproxy}; ${m.tools.sockperf}; ${m.tools.iperf3}.`,
    `Build ${buildInfo.commit} (+${buildInfo.uncommittedFiles} uncommitted files), addon ${buildInfo.addonSha256}, BPF object ${buildInfo.bpfObjectSha256}.`,
    `Machine before the run: ${(before.busy * 100).toFixed(0)} % CPU busy, loadavg ${before.loadavg}; hypervisor steal during the rounds: ${during ? `${(during.steal * 100).toFixed(1)} %` : '–'}; `
      + `other simulated clusters (concurrent test runs): ${others.length ? others.join(', ') : 'none'}.`,
    ...(aborted ? [`ABORTED: ${aborted} (tables hold the rounds that finished).`] : []),
  ].join('\n');
  writeFileSync(path.join(dir, 'latest.md'), `${header}\n\n${renderTables(summary, facts, 'md')}`);
  for (const [name, text] of Object.entries(profiles)) writeFileSync(path.join(dir, `profile-${name}.txt`), text);
  process.stdout.write(`\n${header}\n\n${renderTables(summary, facts, 'text')}`);
  for (const [name, text] of Object.entries(profiles)) process.stdout.write(`\n== perf profile: ${name}\n${text}`);
  log(`results in ${path.relative(process.cwd(), dir)}/latest.json and latest.md`);
  return aborted ? 2 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
