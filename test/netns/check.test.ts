// `nodemesh check --dataplane` and the uninstall cleanup on a real kernel: with traffic flowing
// through both agents every line is ✓; a stopped agent gives ✗ naming its node with a hint and
// exit 1; `nodemesh agent cleanup --routing` (what uninstall's cleanup DaemonSet runs) leaves
// none of that node's BPF programs, links, maps, pins or policy routes; the agent starts again.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { MESH_ROUTE_TABLE } from '../../common/layout.js';
import { SimCluster, netnsPath } from '../../sim/index.js';
import { CLI, manifestDir, rootGate, waitFor } from './helpers.js';

const skip = rootGate();

function cli(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

type BpfObj = { id: number; prog_id?: number };
/** bpftool -j: a list for "show", one object for "show pinned F" (as a list of one here) */
function bpftoolJson(args: string[]): BpfObj[] {
  const v = JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }) || '[]') as BpfObj | BpfObj[];
  return Array.isArray(v) ? v : [v];
}

function pinFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...pinFiles(p)); else out.push(p);
  }
  return out;
}

/** The kernel ids behind a node's pins: maps, links and the programs those links run. */
function pinnedIds(pinDir: string): { maps: number[]; links: number[]; progs: number[] } {
  const ids = { maps: [] as number[], links: [] as number[], progs: [] as number[] };
  for (const f of pinFiles(pinDir)) {
    if (f.includes('/links/')) {
      const l = bpftoolJson(['link', 'show', 'pinned', f])[0]!;
      ids.links.push(l.id);
      ids.progs.push(l.prog_id!);
    } else {
      ids.maps.push(bpftoolJson(['map', 'show', 'pinned', f])[0]!.id);
    }
  }
  return ids;
}

describe('nodemesh check --dataplane and node cleanup', { skip, timeout: 300_000 }, () => {
  let c: SimCluster;
  let dir: string;

  before(async () => {
    dir = manifestDir('check.yaml');
    c = await SimCluster.up({ manifestsDir: dir, agents: true });
  });

  after(async () => {
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  const certsIssued = async (node: string): Promise<boolean> => {
    const d = JSON.parse((await c.agentGet(node, '/config_dump')).body) as { identities: { state: string }[] };
    return d.identities.length > 0 && d.identities.every((i) => i.state === 'valid');
  };

  test('a healthy mesh: traffic crosses both agents and every line is ✓', async () => {
    await waitFor('certificates on both nodes', async () => (await certsIssued('node-a')) && (await certsIssued('node-b')), 30_000, 200);
    const r = await c.exec('mesh/client', ['nodemesh', 'workload', 'get', `http://${c.pod('mesh/echo-b').ip}:8080/`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split('\n')[0]!).status, 200);
    const out = cli(['check', '--dataplane', '--cluster', c.clusterId]);
    assert.equal(out.code, 0, out.out);
    for (const l of ['controller reachable', 'mesh CA issuer valid', 'agent node-a ready', 'agent node-a config', 'agent node-a certificates', 'agent node-b ready', 'agent node-b config', 'agent node-b certificates']) {
      assert.match(out.out, new RegExp(`^✓ ${l}: `, 'm'), `${l} missing:\n${out.out}`);
    }
    assert.doesNotMatch(out.out, /^✗/m);
    assert.match(out.out, /version \d+ applied and ACKed/);
  });

  test('a stopped agent: ✗ naming its node with a hint, exit 1; the other node stays ✓', async () => {
    await c.stopAgent('node-b');
    const out = cli(['check', '--dataplane', '--cluster', c.clusterId]);
    assert.equal(out.code, 1, out.out);
    assert.match(out.out, /^✗ agent node-b ready: not reachable at .*admin/m, out.out);
    assert.match(out.out, /^ {4}hint: is the agent of node-b running\? its log: /m, out.out);
    assert.match(out.out, /^✓ agent node-a ready: /m, out.out);
    assert.match(out.out, /^✓ agent node-a config: /m, out.out);
    assert.match(out.out, /Status check results are ✗/);
  });

  test('agent cleanup --routing leaves no BPF program, link, map, pin or policy route of the node', async () => {
    const node = c.node('node-b');
    const ns = ['nsenter', `--net=${netnsPath(node.netns)}`, '--'];
    const inNs = (args: string[]): string => execFileSync(ns[0]!, [...ns.slice(1), ...args], { encoding: 'utf8' });
    // a stopped agent keeps its state for a restart: it is all there
    assert.ok(existsSync(node.pinDir), `${node.pinDir} should exist after a plain stop`);
    const ids = pinnedIds(node.pinDir);
    assert.ok(ids.links.length >= 2 && ids.maps.length >= 3, `pins: ${JSON.stringify(ids)}`);
    assert.match(inNs(['ip', 'rule', 'show', 'pref', '1000']), new RegExp(`lookup ${MESH_ROUTE_TABLE}`));
    const r = spawnSync(ns[0]!, [...ns.slice(1), process.execPath, CLI, 'agent', 'cleanup', '--pin-dir', node.pinDir, '--routing'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /removed \d+ pin\(s\)/);
    assert.ok(!existsSync(node.pinDir), `${node.pinDir} still exists`);
    // the kernel frees links, then programs, then maps once nothing refers to them
    const gone = (kind: string, want: number[]): boolean => { const have = new Set(bpftoolJson([kind, 'show']).map((x) => x.id)); return want.every((id) => !have.has(id)); };
    await waitFor('links, programs and maps freed', () => gone('link', ids.links) && gone('prog', ids.progs) && gone('map', ids.maps), 5000, 100);
    assert.equal(inNs(['ip', 'rule', 'show', 'pref', '1000']).trim(), '');
    assert.equal(inNs(['ip', 'route', 'show', 'table', String(MESH_ROUTE_TABLE)]).trim(), '');
    // node-a is untouched
    assert.ok(existsSync(c.node('node-a').pinDir));
  });

  test('after a cleanup the agent starts from nothing and the check is ✓ again', async () => {
    await c.startAgent('node-b');
    await waitFor('node-b certificates', () => certsIssued('node-b'), 30_000, 200);
    const r = await c.exec('mesh/client', ['nodemesh', 'workload', 'get', `http://${c.pod('mesh/echo-b').ip}:8080/`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = cli(['check', '--dataplane', '--cluster', c.clusterId]);
    assert.equal(out.code, 0, out.out);
  });
});
