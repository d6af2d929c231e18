// `npm run bench:l7`: builds the L7 bench cluster (bench/manifests/l7), starts the rig (setup.ts:
// nginx servers, nginx proxy pairs), then runs every cell for direct, nodemesh L7/L4 and nginx
// (plain and mutual TLS) interleaved over rounds, prints the tables and writes
// bench/results/l7-latest.{json,md}. Everything it starts is stopped on exit, error or signal.

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { build, load, machine, profile } from '../env.js';
import { promSum } from '../parse.js';
import { alive } from '../procstat.js';
import { Abort, type Cluster, type Owned } from '../setup.js';
import { DETECT_TIMEOUT_MS } from '../../agent/src/routing/compile.js';
import { runCell, applies, type L7CellContext, type L7Sample } from './cells.js';
import { cellsOf, readL7Config } from './config.js';
import { childPids } from './nginx.js';
import { outboundRequests } from './parse.js';
import { renderL7 } from './render.js';
import { L7_CONTENDERS, PATHS, startL7Rig } from './setup.js';
import { summarizeL7 } from './summary.js';
import type * as SimModule from '../../sim/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const log = (msg: string): void => { process.stderr.write(`[bench:l7] ${msg}\n`); };

function describe(s: L7Sample): string {
  const mesh = s.meshRequests !== undefined ? ` mesh: ${s.meshRequests} req ${s.meshOpened} conn` : '';
  const cpu = s.cpuMsPer1kReq !== undefined ? ` cpu ${s.cpuMsPer1kReq.toFixed(1)} ms/1k` : '';
  if (s.error) return `FAILED: ${s.error}${mesh}`;
  const rate = s.rps !== undefined ? ` ${Math.round(s.rps)} rps` : '';
  return `p50 ${s.p50!.toFixed(3)} p99 ${s.p99!.toFixed(3)} p99.9 ${s.p999!.toFixed(3)} ms${rate} errors ${s.errors ?? 0}${cpu}${mesh}`;
}

/** The first line a tool prints for its version (nginx -v writes to stderr). */
function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] || `${cmd}: ${r.error?.message ?? 'no version'}`;
}

async function main(): Promise<number> {
  const cfg = readL7Config(process.env);
  if (process.getuid?.() !== 0) { log('needs root (network namespaces, BPF): run as root'); return 1; }
  const fortio = path.join(ROOT, 'build', 'tools', 'bin', 'fortio');
  if (!existsSync(fortio)) { log(`${fortio} is missing: run bash scripts/build-tools.sh`); return 1; }
  const t0 = Date.now();
  const tmp = mkdtempSync(path.join(tmpdir(), 'nodemesh-bench-l7-'));
  const mine: Owned[] = [];
  process.on('exit', () => {
    for (const p of mine) { for (const c of childPids(p.pid)) { try { process.kill(c, 'SIGKILL'); } catch { /* gone */ } } try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(tmp, { recursive: true, force: true });
  });
  let addon = path.join(ROOT, 'native', 'nodemesh.node');
  let bpfObject = path.join(ROOT, 'build', 'bpf', 'tc_steer.bpf.o');
  if (cfg.snapshot) {
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
  const m = machine();
  const tools = { fortio: version(fortio, ['version']), h2load: version('h2load', ['--version']), nginx: version('nginx', ['-v']) };
  const cells = cellsOf(cfg);
  log(`config ${JSON.stringify(cfg)}; cells ${cells.map((c) => c.id).join(', ')}; build ${JSON.stringify(buildInfo)}`);
  const sim: typeof SimModule = await import('../../sim/index.js');
  const before = await load(2000);
  log(`machine before the run: ${(before.busy * 100).toFixed(0)} % busy, loadavg ${before.loadavg}, other clusters: ${before.otherClusters.join(', ') || 'none'}`);

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

  const samples: L7Sample[] = [];
  const profiles: Record<string, string> = {};
  let aborted: string | undefined;
  try {
    c = await sim.SimCluster.up({ manifestsDir: path.join(ROOT, 'bench', 'manifests', 'l7'), agents: true, watch: false, onProgress: (msg) => log(msg) });
    const cl = c;
    cl.handleSignals(false);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const rig = await startL7Rig(cl, sim, tmp, cfg.bodyBytes, mine, log);
    const ctx: L7CellContext = {
      seconds: cfg.seconds, bodyBytes: cfg.bodyBytes, fortio, tmp, proxies: rig.proxies,
      ttfbArgv: [process.execPath, path.join(ROOT, 'dist', 'bench', 'l7', 'ttfb.js')],
      exec: (pod, argv, timeoutMs) => cl.exec(pod, argv, { timeoutMs }),
      meshCounters: async () => {
        try {
          let requests = 0;
          let opens = 0;
          let golden = false;
          for (const node of ['node-a', 'node-b']) {
            const body = (await cl.agentGet(node, '/metrics')).body;
            requests += outboundRequests(body);
            opens += promSum(body, 'tcp_open_total');
            golden ||= /^# TYPE request_total /m.test(body);
          }
          return { requests, opens, golden };
        } catch {
          return undefined;
        }
      },
    };
    const checkAlive = (): void => {
      for (const [i, pid] of rig.proxies.nodemesh.entries()) if (!alive(pid)) throw new Abort(`the agent of node-${i === 0 ? 'a' : 'b'} (pid ${pid}) died; its log is ${cl.node(i === 0 ? 'node-a' : 'node-b').agentLog}`);
      for (const n of rig.nginxes) if (!alive(n.pid)) throw new Abort(`nginx ${n.name} (pid ${n.pid}) died: ${n.output().trim().slice(-300)}`);
    };
    const contenders = L7_CONTENDERS.filter((x) => cfg.only.length === 0 || cfg.only.includes(x));
    const targets = rig.targets.filter((t) => contenders.includes(t.contender));

    // one short fortio cell and a ttfb per target first: proves every path works (and which one
    // nodemesh took) before measuring
    for (const t of targets) {
      const s = await runCell({ ...ctx, seconds: 1 }, { id: 'check', tool: 'fortio', qps: 200, conns: 2, post: false }, t, -1);
      log(`check ${t.contender.padEnd(11)} ${t.path.padEnd(5)} ${describe(s)}`);
    }
    checkAlive();
    try {
      for (let r = 0; r < cfg.rounds; r++) {
        const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]!);
        for (const cell of cells) {
          for (const p of PATHS) {
            for (const who of order) {
              const t = targets.find((x) => x.contender === who && x.path === p);
              if (!t || !applies(cell, t)) continue;
              const s = await runCell(ctx, cell, t, r);
              samples.push(s);
              log(`round ${r + 1}/${cfg.rounds} ${cell.id.padEnd(18)} ${p.padEnd(5)} ${who.padEnd(11)} ${describe(s)}`);
              checkAlive();
            }
          }
        }
      }
      if (cfg.profile) {
        // where the time goes: the proxies under perf record during one more cross-node cell each
        const want = cells.filter((x) => x.tool === 'fortio' && !x.post && (x.qps === 0 || x.qps === cfg.rates[0]) && x.conns === (x.qps === 0 ? cfg.maxConns : cfg.conns[0]));
        for (const cell of [...want, ...cells.filter((x) => x.tool === 'h2load')]) {
          for (const who of ['nodemesh-l7', 'nginx', 'nginx-tls'] as const) {
            const t = targets.find((x) => x.contender === who && x.path === 'cross');
            if (!t) continue;
            const pids = rig.proxies[who === 'nodemesh-l7' ? 'nodemesh' : who];
            const prof = profile(pids, Math.max(1, cfg.seconds - 1), path.join(tmp, `perf-${who}.data`));
            const s = await runCell(ctx, cell, t, -1);
            const text = await prof;
            log(`profile ${who} cross ${cell.id}: ${describe(s)}`);
            if (text) profiles[`${who}-${cell.id.replace(/[^a-z0-9]+/gi, '-')}`] = `${cell.id} ${describe(s)}\n${text}`;
          }
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

  const summary = summarizeL7(samples, cfg.rounds, DETECT_TIMEOUT_MS);
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const meta = { startedAt: new Date(t0).toISOString(), durationSeconds: Math.round((Date.now() - t0) / 1000), config: cfg, machine: m, tools, build: buildInfo, loadBefore: before, detectTimeoutMs: DETECT_TIMEOUT_MS, ...(aborted ? { aborted } : {}) };
  writeFileSync(path.join(dir, 'l7-latest.json'), `${JSON.stringify({ meta, summary, samples, profiles }, null, 2)}\n`);
  const header = [
    `Run ${meta.startedAt}, ${meta.durationSeconds} s, ${cfg.rounds} rounds of ${cfg.seconds} s cells; ${m.nproc} vCPU ${m.cpu}, Linux ${m.kernel}, Node ${m.node}; fortio ${tools.fortio}; ${tools.h2load}; ${tools.nginx}.`,
    `Build ${buildInfo.commit} (+${buildInfo.uncommittedFiles} uncommitted files), addon ${buildInfo.addonSha256}; machine before the run ${(before.busy * 100).toFixed(0)} % busy, loadavg ${before.loadavg}, other clusters: ${before.otherClusters.join(', ') || 'none'}.`,
    ...(aborted ? [`ABORTED: ${aborted} (tables hold the rounds that finished).`] : []),
  ].join('\n');
  writeFileSync(path.join(dir, 'l7-latest.md'), `${header}\n\n${renderL7(summary, true)}`);
  for (const [name, text] of Object.entries(profiles)) writeFileSync(path.join(dir, `l7-profile-${name}.txt`), text);
  process.stdout.write(`\n${header}\n\n${renderL7(summary, false)}`);
  log(`results in ${path.relative(process.cwd(), dir)}/l7-latest.json and l7-latest.md`);
  return aborted ? 2 : samples.some((s) => s.error) ? 3 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
