// The cost of tracing in the node proxies (`node dist/bench/tracing/run.js`, root): the tracing
// e2e cluster (client on node-a, echo API on node-b over HBONE, Jaeger on node-c) under fortio at a
// fixed rate, interleaved rounds of a sampled client (every request records a CLIENT and a SERVER
// span, exported to Jaeger) and an unsampled one (0 %: same path, same headers, no span), with
// both agents' CPU per 1,000 requests and the spans they exported. Never fails on a number.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SimCluster } from '../../sim/index.js';
import { ROOT } from '../../native/index.js';
import { manifestDir, metricSum, waitFor } from '../../test/netns/helpers.js';
import { int, machine } from '../env.js';
import { parseFortio, type LoadResult } from '../l7/parse.js';
import { cpuSeconds } from '../procstat.js';

const API = 'http://10.96.14.10/';
const FORTIO = path.join(ROOT, 'build', 'tools', 'bin', 'fortio');
const JAEGER = path.join(ROOT, 'build', 'tools', 'bin', 'jaeger');
const CONTENDERS = [['sampled', 'traced/client'], ['unsampled', 'quiet/client']] as const;

interface Sample { readonly contender: string; readonly round: number; readonly load: LoadResult; readonly cpuMsPer1k: number; readonly spans: number }

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const rounds = int(process.env, 'BENCH_TRACE_ROUNDS', 3, 1, 20);
  const seconds = int(process.env, 'BENCH_TRACE_SECONDS', 5, 1, 120);
  const rate = int(process.env, 'BENCH_TRACE_RATE', 1000, 1, 100_000);
  const conns = int(process.env, 'BENCH_TRACE_CONNS', 4, 1, 256);
  const dir = manifestDir('tracing.yaml');
  const f = path.join(dir, 'tracing.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace('build/tools/bin/jaeger', JAEGER));
  const c = await SimCluster.up({ manifestsDir: dir, agents: true, controllerArgs: ['--trace-collector', '10.200.3.10:4318'], podReadyTimeoutMs: 60_000 });
  const samples: Sample[] = [];
  try {
    const pids = ['node-a', 'node-b'].map((n) => c.node(n).agentPid!);
    process.stdout.write(`agents: node-a pid ${pids[0]}, node-b pid ${pids[1]} (cluster ${c.clusterId})\n`);
    const exported = async (): Promise<number> => {
      let n = 0;
      for (const node of ['node-a', 'node-b']) n += metricSum((await c.agentGet(node, '/metrics')).body, 'nodemesh_trace_spans_exported_total', {});
      return n;
    };
    await waitFor('the API through the mesh', async () => (await c.exec('traced/client', ['curl', '-sf', '-o', '/dev/null', API])).code === 0, 30_000, 250);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...CONTENDERS].reverse() : CONTENDERS;
      for (const [contender, pod] of order) {
        const [cpu0, spans0] = [cpuSeconds(pids)!, await exported()];
        const r = await c.exec(pod, [FORTIO, 'load', '-qps', String(rate), '-c', String(conns), '-t', `${seconds}s`, '-json', '-', '-p', '50,90,99,99.9', '-r', '0.00001', API], { timeoutMs: (seconds + 30) * 1000 });
        if (r.code !== 0) throw new Error(`fortio failed: ${r.stderr.slice(-500)}`);
        const load = parseFortio(r.stdout);
        await new Promise((res) => setTimeout(res, 2500)); // the last drain and export
        const cpuMsPer1k = ((cpuSeconds(pids)! - cpu0) * 1000) / (load.requests / 1000);
        const spans = (await exported()) - spans0;
        samples.push({ contender, round, load, cpuMsPer1k, spans });
        process.stdout.write(`round ${round + 1} ${contender}: ${load.requests} requests, ${load.errors} errors, p50 ${load.p50.toFixed(3)} ms, p99 ${load.p99.toFixed(3)} ms, agents ${cpuMsPer1k.toFixed(1)} CPU ms/1k, ${spans} spans exported\n`);
      }
    }
  } finally {
    await c.down();
    rmSync(dir, { recursive: true, force: true });
  }
  const m = machine();
  process.stdout.write(`\n${m.cpu}, ${m.nproc} vCPU, Linux ${m.kernel}, Node ${m.node}; ${rounds} rounds of ${seconds} s at ${rate} RPS × ${conns} connections, cross node (HBONE)\n\n`);
  process.stdout.write('| client | p50 ms | p99 ms | agents CPU ms / 1k requests | spans exported / request | errors |\n|---|---|---|---|---|---|\n');
  for (const [contender] of CONTENDERS) {
    const s = samples.filter((x) => x.contender === contender);
    const cell = (f: (x: Sample) => number, d: number): string => `${median(s.map(f)).toFixed(d)} [${Math.min(...s.map(f)).toFixed(d)}–${Math.max(...s.map(f)).toFixed(d)}]`;
    process.stdout.write(`| ${contender} | ${cell((x) => x.load.p50, 3)} | ${cell((x) => x.load.p99, 3)} | ${cell((x) => x.cpuMsPer1k, 1)} | ${cell((x) => x.spans / x.load.requests, 2)} | ${s.reduce((a, x) => a + x.load.errors, 0)} |\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
