// `npm run bench`: builds the two-node bench cluster and the rig (setup.ts: servers, HAProxy plain
// and TLS pairs), then runs every cell for direct, nodemesh, HAProxy and HAProxy-TLS interleaved over
// rounds, prints the tables and writes bench/results/latest.{json,md}. Everything it starts is
// stopped on exit or signal.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENDERS, PATHS, runCell, type CellContext, type CellKind, type Proxied, type Sample } from './cells.js';
import { build, cpuTicks, load, loadavg, machine, otherClusters, profile, readConfig, type BenchConfig, type Load } from './env.js';
import { promSum } from './parse.js';
import { alive } from './procstat.js';
import { renderTables } from './render.js';
import { Abort, startRig, type Cluster, type Owned } from './setup.js';
import { summarize } from './summary.js';
import { buildTools, type BenchTools } from './tools.js';
// types only: the module itself is imported after NODEMESH_ADDON is set (see the snapshot below)
import type * as SimModule from '../sim/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`); };

type Sim = typeof SimModule;

function describe(s: Sample): string {
  const cpu = s.proxyCpuSeconds !== undefined ? ` proxy cpu ${s.proxyCpuSeconds.toFixed(2)} s` : '';
  const cap = s.meshOpened !== undefined ? ` captured ${s.meshOpened} conn` : '';
  if (s.error) return `FAILED: ${s.error}`;
  if (s.kind === 'stream') return `${s.gbps!.toFixed(2)} Gbit/s${cpu}${cap}`;
  if (s.kind === 'connrate') {
    const hs = s.handshakes ? ` TLS handshakes ${s.handshakes.client}/${s.handshakes.server}${s.handshakes.clientResumed ? ` (${s.handshakes.clientResumed} resumed)` : ''}` : '';
    return `${Math.round(s.rate!)} conn/s p50 ${s.p50} p99 ${s.p99} µs failed ${s.connErrors ?? 0}${hs}${cpu}${cap}`;
  }
  const rate = s.kind === 'pingpong' ? ` ${Math.round(s.rate!)} rt/s` : '';
  return `p50 ${s.p50!.toFixed(1)} p99 ${s.p99!.toFixed(1)} p99.9 ${s.p999!.toFixed(1)} µs${rate}${cpu}${cap}`;
}

async function main(): Promise<number> {
  const cfg: BenchConfig = readConfig(process.env);
  if (process.getuid?.() !== 0) { log('needs root (network namespaces, BPF): run as root'); return 1; }
  const t0 = Date.now();
  const tmp = mkdtempSync(path.join(tmpdir(), 'nodemesh-bench-'));
  const mine: Owned[] = [];
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
  let tools: BenchTools | undefined;
  if (cfg.connParallel > 0) tools = buildTools(ROOT, tmp); // before the cluster: a missing cc fails fast
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

    const rig = await startRig(cl, sim, tmp, tools, mine, log);
    const { targets, haproxies } = rig;
    const agentPids = rig.proxies.nodemesh;
    const ctx: CellContext = {
      cfg,
      proxies: rig.proxies,
      ...(tools ? { connrate: tools.connrate } : {}),
      handshakes: (t) => rig.handshakes(t),
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
      for (const h of haproxies) if (!alive(h.pid)) throw new Abort(`HAProxy ${path.basename(h.configPath)} on ${h.node} (pid ${h.pid}) died: ${h.output().trim().slice(-300)}`);
    };

    // a 1-second ping-pong through every path: proves each works (and that nodemesh captures) before measuring
    for (const t of targets) {
      const s = await runCell({ ...ctx, cfg: { ...cfg, pingpongSeconds: 1 } }, 'pingpong', t, -1);
      log(`check ${t.contender.padEnd(11)} ${t.path.padEnd(5)} ${describe(s)}`);
      if (t.contender === 'nodemesh' && !s.error && s.meshOpened === 0) log('WARNING: the nodemesh path opened no proxied connection: the traffic was NOT captured');
      if (cfg.connParallel > 0) log(`check ${t.contender.padEnd(11)} ${t.path.padEnd(5)} ${describe(await runCell({ ...ctx, cfg: { ...cfg, seconds: 1 } }, 'connrate', t, -1))}`);
    }
    checkAgents();

    const ticks0 = cpuTicks();
    const kinds: CellKind[] = ['latency'];
    if (cfg.highRate > 0) kinds.push('latency-hi');
    if (cfg.pingpongSeconds > 0) kinds.push('pingpong');
    kinds.push('stream');
    if (cfg.connParallel > 0) kinds.push('connrate');
    try {
      for (let r = 0; r < cfg.rounds; r++) {
        // the contender order rotates each round (A B C D, B C D A, …) so no one always goes first
        const order = CONTENDERS.map((_, i) => CONTENDERS[(i + r) % CONTENDERS.length]!);
        for (const kind of kinds) {
          for (const p of PATHS) {
            for (const who of order) {
              const t = targets.find((x) => x.contender === who && x.path === p);
              if (!t) continue; // HAProxy-TLS runs cross node only
              const s = await runCell(ctx, kind, t, r);
              samples.push(s);
              log(`round ${r + 1}/${cfg.rounds} ${kind.padEnd(10)} ${p.padEnd(5)} ${who.padEnd(11)} ${describe(s)}`);
              checkAgents();
              for (const id of otherClusters(cl.clusterId)) seen.add(id);
            }
          }
        }
      }
      const ticks1 = cpuTicks();
      during = { steal: (ticks1.steal - ticks0.steal) / Math.max(1, ticks1.total - ticks0.total), loadavgEnd: loadavg(), otherClusters: [...seen] };
      if (cfg.profile) {
        const runs: (readonly [Proxied, CellKind])[] = [['nodemesh', 'stream'], ['haproxy', 'stream'], ['haproxy-tls', 'stream']];
        if (cfg.connParallel > 0) runs.push(['nodemesh', 'connrate'], ['haproxy-tls', 'connrate']);
        if (cfg.highRate > 0) runs.push(['nodemesh', 'latency-hi'], ['haproxy-tls', 'latency-hi']);
        for (const [who, kind] of runs) {
          const t = targets.find((x) => x.contender === who && x.path === 'cross')!;
          const prof = profile(ctx.proxies[who], Math.max(1, cfg.seconds - 1), path.join(tmp, `perf-${who}-${kind}.data`));
          const s = await runCell(ctx, kind, t, -1);
          const text = await prof;
          log(`profile ${who} cross-node ${kind}: ${describe(s)}`);
          if (text) profiles = { ...profiles, [`${who}-${kind}-cross`]: `${describe(s)}\n${text}` };
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
  const facts = { rate: cfg.rate, highRate: cfg.highRate, msgSize: cfg.msgSize, seconds: cfg.seconds, pingpongSeconds: cfg.pingpongSeconds, connParallel: cfg.connParallel };
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
    `Run ${meta.startedAt}, ${meta.durationSeconds} s; ${m.nproc} vCPU ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}; ${m.tools.haproxy}; ${m.tools.openssl}; ${m.tools.sockperf}; ${m.tools.iperf3}.`,
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
