// `npm run bench:csr`: the controller's CSR signing rate. A controller runs in this process with
// real gRPC on 127.0.0.1:0 (manifest source, node tokens, no per-node rate limit); a child process
// plays the nodes' agents (pre-generated CSRs, bounded concurrency). Also the raw in-process rates.
// Prints a table and writes bench/results/csr-latest.json; the child is killed on exit or signal.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { runController, TokenFileAuth, type ControllerHandle } from '../../controller/src/index.js';
import { ManifestSource } from '../../controller/src/sources/index.js';
import { MeshCA, P256, SignPool, checkCsr, createCsr, subtle } from '../../controller/src/ca/index.js';
import { Child, killAll } from '../scale/children.js';
import { summarize as summarizeProfile, type CpuProfile, type ProfileSummary } from '../scale/profile.js';
import { loadavg } from '../env.js';
import type { ClientCmd, ClientReply } from './client.js';
import { TRUST_DOMAIN, csrConfig, identityOf, manifestsYaml, simNodes } from './config.js';
import { renderCsr, type CsrResult } from './report.js';
import { histogramDelta, histogramQuantile, percentile, readHistogram, type Histogram } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const log = (m: string): void => { process.stderr.write(`[bench:csr] ${m}\n`); };
const HIST = 'nodemesh_ca_sign_duration_seconds';

/** Calls f as often as it can for `seconds`, one at a time; calls per second. */
async function rate(seconds: number, f: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) await f(n++);
  return n / ((performance.now() - t0) / 1000);
}

async function inProcess(workers: number): Promise<CsrResult['inProcess']> {
  const ca = await MeshCA.generate({ trustDomain: TRUST_DOMAIN });
  const id = identityOf('sa-ref');
  const csrs: string[] = [];
  for (let i = 0; i < 300; i++) csrs.push(await createCsr(id, await subtle.generateKey(P256, true, ['sign', 'verify'])));
  await rate(1, (i) => ca.sign(csrs[i % csrs.length]!, id)); // warm-up (JIT)
  const signPerSec = await rate(3, (i) => ca.sign(csrs[i % csrs.length]!, id));
  const checkCsrPerSec = await rate(2, (i) => checkCsr(csrs[i % csrs.length]!, id));
  const keys = await Promise.all(csrs.map((c) => checkCsr(c, id)));
  const issuePerSec = await rate(2, (i) => ca.issue(keys[i % keys.length]!.publicKey, id));
  if (workers === 0) return { signPerSec, checkCsrPerSec, issuePerSec };
  const pool = await SignPool.start(ca, workers);
  // SignPool unrefs its workers: without a ref'd handle the process would exit mid-measurement
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const inflight = workers * 4;
    let n = 0;
    const t0 = performance.now();
    const loop = async (): Promise<void> => { while (performance.now() - t0 < 3000) await pool.sign(csrs[n++ % csrs.length]!, id); };
    await Promise.all(Array.from({ length: inflight }, loop));
    return { signPerSec, checkCsrPerSec, issuePerSec, signPoolPerSec: n / ((performance.now() - t0) / 1000), signPoolWorkers: workers };
  } finally {
    clearInterval(keepAlive);
    await pool.close();
  }
}

async function histogram(ctl: ControllerHandle): Promise<Histogram | undefined> {
  return readHistogram(await ctl.metrics.registry.metrics(), HIST);
}

async function main(): Promise<number> {
  const cfg = csrConfig();
  const t0 = Date.now();
  log(`config ${JSON.stringify(cfg)}; loadavg ${loadavg()}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'nodemesh-bench-csr-'));
  let ctl: ControllerHandle | undefined;
  const client = new Child<ClientCmd, ClientReply>('csr-client', '../csr/client.js');
  try {
    const nodes = simNodes(cfg.nodes, cfg.identitiesPerNode, (i) => `bench-token-${i}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path.join(dir, 'pods.yaml'), manifestsYaml(nodes));
    ctl = await runController({
      source: new ManifestSource(dir), auth: new TokenFileAuth(new Map(nodes.map((n) => [n.node, n.token]))),
      grpcHost: '127.0.0.1', grpcPort: 0, adminPort: -1, ca: await MeshCA.generate({ trustDomain: TRUST_DOMAIN }),
      csrRateLimit: { burst: 1e9, ratePerSec: 1e9 }, log: pino({ level: 'silent' }),
    });
    const address = `127.0.0.1:${ctl.grpcPort}`;
    log(`controller on ${address}; generating ${cfg.pool} P-256 keys + CSRs in the client`);
    client.send({ kind: 'init', address, nodes, pool: cfg.pool });
    const ready = await client.next((r): r is Extract<ClientReply, { kind: 'ready' }> => r.kind === 'ready', 600_000, 'CSRs generated');
    log(`${ready.generated} CSRs in ${(ready.generateMs / 1000).toFixed(1)} s; signing for 1 + ${cfg.seconds} s with ${cfg.concurrency} in flight`);

    let h0: Histogram | undefined;
    let h1: Histogram | undefined;
    let cpu0: NodeJS.CpuUsage | undefined;
    let cpu1: NodeJS.CpuUsage | undefined;
    let w0 = 0;
    let w1 = 0;
    const c = ctl;
    client.on('reply', (r: ClientReply) => {
      if (r.kind !== 'window') return;
      if (r.edge === 'start') { cpu0 = process.cpuUsage(); w0 = performance.now(); void histogram(c).then((h) => { h0 = h; }); }
      else { cpu1 = process.cpuUsage(cpu0); w1 = performance.now(); void histogram(c).then((h) => { h1 = h; }); }
    });
    client.send({ kind: 'go', warmupSeconds: 1, seconds: cfg.seconds, concurrency: cfg.concurrency });
    const done = await client.next((r): r is Extract<ClientReply, { kind: 'done' }> => r.kind === 'done', (cfg.seconds + 120) * 1000, 'the signing window');
    await new Promise((r) => setTimeout(r, 50));
    const hd = h0 && h1 ? histogramDelta(h0, h1) : undefined;
    const cpuMs = cpu1 ? (cpu1.user + cpu1.system) / 1000 : undefined;
    const wall = w1 > w0 ? (w1 - w0) / 1000 : undefined;
    const grpc: CsrResult['grpc'] = {
      signedPerSec: done.signed / done.windowSeconds, signed: done.signed, windowSeconds: done.windowSeconds, errors: done.errors,
      p50Ms: percentile(done.latenciesMs, 50), p99Ms: percentile(done.latenciesMs, 99), maxMs: percentile(done.latenciesMs, 100),
      serverP50Ms: hd ? mul(histogramQuantile(hd, 0.5), 1000) : undefined, serverP99Ms: hd ? mul(histogramQuantile(hd, 0.99), 1000) : undefined,
      serverMeanMs: hd && hd.count > 0 ? (hd.sum / hd.count) * 1000 : undefined, serverCount: hd?.count,
      controllerCpuMsPerCsr: cpuMs !== undefined && hd && hd.count > 0 ? cpuMs / hd.count : undefined,
      controllerCores: cpuMs !== undefined && wall ? cpuMs / 1000 / wall : undefined,
    };
    let profile: ProfileSummary | undefined;
    if (cfg.profile) {
      log('a second window of 3 s with the V8 profiler on the controller process');
      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      client.send({ kind: 'go', warmupSeconds: 0, seconds: 3, concurrency: cfg.concurrency });
      const d2 = await client.next((r): r is Extract<ClientReply, { kind: 'done' }> => r.kind === 'done', 120_000, 'the profiled window');
      const { profile: prof } = await session.post('Profiler.stop');
      session.disconnect();
      profile = summarizeProfile(prof as unknown as CpuProfile, 20);
      log(`profiled window: ${(d2.signed / 3).toFixed(0)} CSRs/s`);
    }
    await client.stop({ kind: 'stop' });
    await ctl.stop();
    ctl = undefined;
    log('in-process reference rates (no gRPC)');
    const result: CsrResult = { config: { ...cfg }, grpc, inProcess: await inProcess(cfg.workers), ...(profile ? { profile } : {}) };
    const meta = {
      startedAt: new Date(t0).toISOString(), durationSeconds: Math.round((Date.now() - t0) / 1000), loadavgEnd: loadavg(),
      machine: { nproc: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? '?', kernel: os.release(), node: process.version },
    };
    const out = path.join(ROOT, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'csr-latest.json'), `${JSON.stringify({ meta, ...result, latenciesMs: undefined }, null, 2)}\n`);
    process.stdout.write(`\nCSR signing, ${meta.startedAt}; ${meta.machine.nproc} vCPU ${meta.machine.cpu}, Linux ${meta.machine.kernel}, Node ${meta.machine.node}; loadavg at the end ${meta.loadavgEnd}\n\n${renderCsr(result, 'text')}`);
    if (profile) process.stdout.write(`\n${renderProfile(profile)}\n`);
    log(`results in ${path.relative(process.cwd(), out)}/csr-latest.json`);
    return 0;
  } finally {
    await ctl?.stop().catch(() => undefined);
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

function renderProfile(p: ProfileSummary): string {
  const pct = (x: { pct: number }): string => `${x.pct.toFixed(1)} %`;
  return [`controller process CPU profile (busy ${p.busyMs.toFixed(0)} ms, idle ${p.idleMs.toFixed(0)} ms):`,
    '  by area: ' + p.areas.map((a) => `${a.area} ${pct(a)}`).join('; '),
    '  hottest functions (self): ' + p.selfTop.map((f) => `${f.fn} (${f.where}) ${pct(f)}`).join('; '),
    '  our functions (inclusive): ' + p.ownInclusiveTop.map((f) => `${f.fn} (${f.where}) ${pct(f)}`).join('; ')].join('\n');
}

const mul = (v: number | undefined, k: number): number | undefined => (v === undefined ? undefined : v * k);

main().then((code) => { process.exitCode = code; process.exit(code); }, (e: unknown) => {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  killAll();
  process.exit(1);
});
