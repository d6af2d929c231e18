// KubeSource against the fault-injecting fake API server: the initial list matches the manifest
// source, changes arrive within 1 s, invalid objects are rejected alone, and cuts, 410s, 500s,
// garbage lines, bookmarks, absent APIs, 403s and close() behave as the source promises.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setCrdDir } from '../../../controller/src/model/index.js';
import { KubeSource, ManifestSource, servedTypes, type KubeSourceOptions, type SourceSnapshot } from '../../../controller/src/sources/index.js';
import type { MeshError } from '../../../common/errors.js';
import { FAKE_BUILTIN_TYPES, startFakeApiServer, type FakeApiServer, type FakeType } from '../../fakes/kube-apiserver.js';
import { OBJECTS, TEST_CRD, TEST_POLICY_TYPE, pod } from '../../fakes/kube-objects.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'nm-kube-'));
const crdDir = path.join(tmp, 'crds');
spawnSync('mkdir', ['-p', crdDir]);
writeFileSync(path.join(crdDir, 'policy.yaml'), TEST_CRD);
setCrdDir(crdDir);
after(() => rmSync(tmp, { recursive: true, force: true }));

const ALL_TYPES: FakeType[] = [...FAKE_BUILTIN_TYPES, TEST_POLICY_TYPE];
const FAST: KubeSourceOptions = { crdDir, coalesceMs: 10, backoffInitialMs: 50, backoffMaxMs: 400, absentRetryMs: 200, watchTimeoutSeconds: 60, startTimeoutMs: 5000 };

interface Setup { fake: FakeApiServer; src: KubeSource; first: SourceSnapshot; errors: MeshError[] }

async function setup(opts: { types?: FakeType[]; objects?: Record<string, unknown>[]; source?: Partial<KubeSourceOptions>; before?: (f: FakeApiServer) => void } = {}): Promise<Setup> {
  const fake = await startFakeApiServer(opts.types ?? ALL_TYPES);
  for (const o of opts.objects ?? OBJECTS) fake.apply(o);
  opts.before?.(fake);
  const src = new KubeSource({ ...FAST, kubeconfig: fake.writeKubeconfig(path.join(tmp, `kc-${fake.url.split(':').pop()}`)), ...opts.source });
  const errors: MeshError[] = [];
  src.on('error', (e: MeshError) => errors.push(e));
  try {
    const first = await src.start();
    const served = src.stats().types.filter((t) => t.state !== 'absent').length;
    await poll(() => fake.openWatches() === served, 2000, 'every watch to open');
    return { fake, src, first, errors };
  } catch (e) {
    src.close();
    await fake.close();
    throw e;
  }
}

async function teardown(s: Setup): Promise<void> {
  s.src.close();
  await s.fake.close();
}

/** Resolves with the first snapshot (current or future) that satisfies pred, or fails after ms. */
function until(src: KubeSource, pred: (s: SourceSnapshot) => boolean, ms = 1000, what = 'condition'): Promise<SourceSnapshot> {
  if (src.snapshot && pred(src.snapshot)) return Promise.resolve(src.snapshot);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { src.off('update', on); reject(new Error(`timed out after ${ms} ms waiting for ${what}; stats ${JSON.stringify(src.stats())}`)); }, ms);
    const on = (s: SourceSnapshot): void => { if (pred(s)) { clearTimeout(t); src.off('update', on); resolve(s); } };
    src.on('update', on);
  });
}

async function poll(pred: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const podsOf = (s: SourceSnapshot): string[] => [...s.resources.pods.keys()].sort();
const podType = (s: KubeSource) => s.stats().types.find((t) => t.resource === 'pods')!;

test('served types: built-in kinds plus one per CRD, with plural and scope from the CRD file', () => {
  const t = servedTypes(crdDir);
  assert.deepEqual(t.map((x) => x.plural), ['namespaces', 'serviceaccounts', 'pods', 'services', 'endpointslices', 'httproutes', 'grpcroutes', 'trafficpolicies']);
  assert.deepEqual(t.at(-1), { group: 'policy.nodemesh.io', version: 'v1alpha1', kind: 'TrafficPolicy', plural: 'trafficpolicies', namespaced: true });
});

test('initial list (paged) gives the same domain objects as the manifest source', async () => {
  const s = await setup({ source: { pageSize: 1 } });
  try {
    const dir = path.join(tmp, 'manifests');
    spawnSync('mkdir', ['-p', dir]);
    writeFileSync(path.join(dir, 'all.yaml'), OBJECTS.map((o) => JSON.stringify(o)).join('\n---\n'));
    const m = new ManifestSource(dir).load();
    assert.deepEqual(m.problems, []);
    assert.deepEqual(s.first.problems, []);
    assert.equal(s.first.generation, 1);
    assert.deepEqual(s.first.resources, m.resources);
    assert.equal(s.first.resources.policies.size, 1);
    assert.equal(s.first.resources.routes.size, 1);
    assert.ok(s.fake.requests.some((r) => r.query.get('continue')), 'the list was paged');
    assert.equal(s.src.stats().lists, ALL_TYPES.length);
  } finally { await teardown(s); }
});

test('create, update, delete arrive within 1 s; a burst of 1000 events makes few snapshots', async () => {
  const s = await setup();
  try {
    let t0 = Date.now();
    s.fake.apply(pod('c', '10.200.1.7'));
    await until(s.src, (x) => x.resources.pods.has('shop/c'), 1000, 'create');
    t0 = Date.now();
    s.fake.apply({ ...pod('c', '10.200.1.7'), metadata: { ...pod('c').metadata, labels: { app: 'v2' } } });
    const u = await until(s.src, (x) => x.resources.pods.get('shop/c')?.labels.app === 'v2', 1000, 'update');
    assert.ok(Date.now() - t0 < 1000);
    s.fake.delete('v1', 'Pod', 'shop', 'c');
    const d = await until(s.src, (x) => !x.resources.pods.has('shop/c'), 1000, 'delete');
    assert.ok(d.generation > u.generation);

    let updates = 0;
    s.src.on('update', () => updates++);
    for (let i = 0; i < 1000; i++) s.fake.apply(pod(`burst-${i}`, `10.201.${i >> 8}.${i & 255}`));
    await until(s.src, (x) => x.resources.pods.size === 1002, 3000, 'burst');
    assert.ok(updates <= 20, `1000 events made ${updates} snapshots`);
  } finally { await teardown(s); }
});

test('an invalid object is rejected alone with its field path; its last valid version stays', async () => {
  const s = await setup();
  try {
    s.fake.apply(pod('a', 'not-an-ip'));
    s.fake.apply(pod('fresh-bad', '999.1.1.1'));
    s.fake.apply(pod('c', '10.200.1.9'));
    const x = await until(s.src, (y) => y.resources.pods.has('shop/c') && y.problems.length === 2, 1000, 'rejections');
    const pa = x.problems.find((p) => p.name === 'a')!;
    assert.deepEqual({ ...pa, message: '' }, { file: 'kube:Pod', kind: 'Pod', namespace: 'shop', name: 'a', path: 'status.podIP', message: '' });
    assert.equal(x.resources.pods.get('shop/a')?.podIP, '10.200.1.5', 'the last valid version of a stays in force');
    assert.ok(!x.resources.pods.has('shop/fresh-bad'));
    assert.equal(s.src.stats().rejected, 2);
    s.fake.apply(pod('a', '10.200.1.6'));
    s.fake.delete('v1', 'Pod', 'shop', 'fresh-bad');
    const y = await until(s.src, (z) => z.problems.length === 0, 1000, 'fixed');
    assert.equal(y.resources.pods.get('shop/a')?.podIP, '10.200.1.6');
  } finally { await teardown(s); }
});

test('a watch cut mid-event resumes from the last resourceVersion: no event lost or duplicated', async () => {
  const s = await setup();
  try {
    const rvBefore = s.fake.resourceVersion;
    const events = s.src.stats().events;
    s.fake.cutNextEvent('pods');
    s.fake.apply(pod('c', '10.200.1.7'));
    await until(s.src, (x) => x.resources.pods.has('shop/c'), 2000, 'the cut event');
    const watches = s.fake.watchRequests('pods');
    assert.equal(watches.length, 2);
    assert.equal(watches[1]!.query.get('resourceVersion'), String(rvBefore), 'resumed from the last event seen');
    assert.equal(s.src.stats().events, events + 1, 'the cut event applied exactly once');
    assert.equal(s.src.stats().watchRestarts, 1);
    assert.equal(s.src.stats().relists, 0);
    assert.ok(s.errors.some((e) => e.code === 'MESH_ERR_KUBE_WATCH'));
  } finally { await teardown(s); }
});

for (const mode of ['http', 'event'] as const) {
  test(`410 Gone (${mode === 'http' ? 'HTTP status' : 'ERROR event'}) → relist; objects deleted while disconnected are removed`, async () => {
    const s = await setup();
    try {
      s.fake.goneAs = mode;
      s.fake.pauseWatches();
      s.fake.delete('v1', 'Pod', 'shop', 'a');
      s.fake.apply(pod('d', '10.200.1.8'));
      s.fake.compact();
      s.fake.resumeWatches();
      const x = await until(s.src, (y) => !y.resources.pods.has('shop/a') && y.resources.pods.has('shop/d'), 2000, 'relist');
      assert.deepEqual(podsOf(x), ['shop/b', 'shop/d']);
      // compaction expired every type's resourceVersion: each relists once
      await poll(() => s.src.stats().relists === ALL_TYPES.length, 2000, 'every type to relist');
      assert.equal(podType(s.src).resourceVersion, String(s.fake.resourceVersion));
      // and watching again from the relist's resourceVersion
      await poll(() => s.fake.watchRequests('pods').at(-1)!.query.get('resourceVersion') === String(s.fake.resourceVersion), 2000, 'a watch from the relist');
    } finally { await teardown(s); }
  });
}

test('an ERROR 410 on an open watch → relist', async () => {
  const s = await setup();
  try {
    s.fake.expireWatches('services');
    await poll(() => s.src.stats().relists === 1, 2000, 'relist');
    assert.equal(s.src.stats().watchRestarts, 0);
  } finally { await teardown(s); }
});

test('500s → exponential backoff with jitter, then recovery', async () => {
  const s = await setup();
  try {
    s.fake.failNext(4, 500, 'pods', true);
    s.fake.endWatches('pods');
    await poll(() => s.fake.openWatches('pods') === 1, 5000, 'watch back');
    s.fake.apply(pod('e', '10.200.1.10'));
    await until(s.src, (x) => x.resources.pods.has('shop/e'), 1000, 'recovered watch');
    const w = s.fake.watchRequests('pods').slice(1);
    assert.deepEqual(w.map((r) => r.status), [500, 500, 500, 500, 200]);
    const gaps = w.slice(1).map((r, i) => r.at - w[i]!.at);
    // delays are uniform in [d/2, d] with d = 50·2^n ms capped at 400: the ceilings grow
    assert.ok(gaps[3]! > gaps[0]!, `gaps ${gaps.join(',')} grow`);
    assert.ok(gaps.reduce((a, b) => a + b, 0) >= 50 + 100 + 200 - 5, `gaps ${gaps.join(',')}`);
    assert.ok(s.src.stats().watchRestarts >= 4);
    assert.ok(s.errors.filter((e) => e.code === 'MESH_ERR_KUBE_API').length >= 4);
  } finally { await teardown(s); }
});

test('500s on the initial list delay start() but do not fail it', async () => {
  const s = await setup({ before: (f) => f.failNext(3, 500, 'services') });
  try {
    assert.equal(s.first.resources.services.size, 1);
    assert.equal(s.errors.length, 3);
    assert.equal(s.src.stats().watchRestarts, 0);
  } finally { await teardown(s); }
});

test('a garbage line restarts that watch only; nothing crashes', async () => {
  const s = await setup();
  try {
    const svcWatches = s.fake.watchRequests('services').length;
    s.fake.sendGarbage('pods');
    await poll(() => s.src.stats().watchRestarts === 1 && s.fake.openWatches('pods') === 1, 2000, 'restart');
    s.fake.apply(pod('f', '10.200.1.11'));
    await until(s.src, (x) => x.resources.pods.has('shop/f'), 1000, 'pod after garbage');
    assert.equal(s.fake.watchRequests('services').length, svcWatches);
    assert.ok(s.errors.some((e) => e.code === 'MESH_ERR_KUBE_WATCH' && /malformed/.test(e.message)));
  } finally { await teardown(s); }
});

test('bookmarks advance the resourceVersion: the next watch resumes from the bookmark', async () => {
  const s = await setup();
  try {
    s.fake.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'more' } });
    s.fake.bump(40);
    const rv = String(s.fake.resourceVersion);
    s.fake.bookmark('pods');
    await poll(() => podType(s.src).resourceVersion === rv, 1000, 'bookmark');
    s.fake.compact(); // anything older than the bookmark is now gone
    s.fake.endWatches('pods');
    await poll(() => s.fake.openWatches('pods') === 1, 2000, 'new watch');
    const last = s.fake.watchRequests('pods').at(-1)!;
    assert.equal(last.query.get('resourceVersion'), rv);
    assert.equal(last.query.get('allowWatchBookmarks'), 'true');
    assert.equal(last.status, 200);
    assert.equal(s.src.stats().relists, 0, 'no relist was needed');
    assert.equal(s.src.stats().bookmarks, 1);
  } finally { await teardown(s); }
});

test('an absent API (404) is reported and retried slowly; the other types are served', async () => {
  const grpc = ALL_TYPES.find((t) => t.plural === 'grpcroutes')!;
  const s = await setup({ types: ALL_TYPES.filter((t) => t !== grpc) });
  try {
    assert.equal(s.first.resources.pods.size, 2);
    const st = s.src.stats().types.find((t) => t.resource === 'grpcroutes.gateway.networking.k8s.io')!;
    assert.equal(st.state, 'absent');
    assert.equal(st.lastError?.code, 'MESH_ERR_KUBE_API_MISSING');
    assert.ok(s.errors.some((e) => e.code === 'MESH_ERR_KUBE_API_MISSING' && e.message.includes('grpcroutes')));
    s.fake.addType(grpc);
    s.fake.apply({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'g', namespace: 'shop' }, spec: { parentRefs: [{ kind: 'Service', name: 'web' }] } });
    await until(s.src, (x) => x.resources.routes.has('GRPCRoute/shop/g'), 2000, 'the API to appear');
  } finally { await teardown(s); }
});

test('403 on the initial list: start() rejects with MESH_ERR_KUBE_FORBIDDEN naming the resource', async () => {
  await assert.rejects(setup({ before: (f) => f.forbid('endpointslices') }), (e: MeshError) => {
    assert.equal(e.code, 'MESH_ERR_KUBE_FORBIDDEN');
    assert.match(e.message, /may not list endpointslices\.discovery\.k8s\.io/);
    return true;
  });
});

test('401: start() rejects with MESH_ERR_KUBE_UNAUTHORIZED; a missing kubeconfig is MESH_ERR_KUBE_CONFIG', async () => {
  const fake = await startFakeApiServer(ALL_TYPES, 'right');
  try {
    const src = new KubeSource({ ...FAST, kubeconfig: fake.writeKubeconfig(path.join(tmp, 'kc-wrong'), 'wrong') });
    await assert.rejects(src.start(), (e: MeshError) => e.code === 'MESH_ERR_KUBE_UNAUTHORIZED');
  } finally { await fake.close(); }
  await assert.rejects(new KubeSource({ ...FAST, kubeconfig: path.join(tmp, 'none') }).start(), (e: MeshError) => e.code === 'MESH_ERR_KUBE_CONFIG');
});

test('start() gives up after startTimeoutMs when the server keeps failing', async () => {
  await assert.rejects(setup({ before: (f) => f.failNext(10_000, 503, 'pods'), source: { startTimeoutMs: 300 } }), (e: MeshError) => {
    assert.equal(e.code, 'MESH_ERR_KUBE_API');
    assert.match(e.message, /did not list pods \(list pods: HTTP 503/);
    return true;
  });
});

test('close() leaves no handles: a process that starts and closes a source exits promptly', () => {
  const probe = fileURLToPath(new URL('../../fakes/kube-close-probe.js', import.meta.url));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [probe, crdDir], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `probe failed: ${r.stderr}`);
  assert.match(r.stdout, /closed with \d+ pods/);
  assert.ok(Date.now() - t0 < 5000, 'the probe exited by itself');
});

test('close() during start() rejects start() instead of leaving it pending', async () => {
  const fake = await startFakeApiServer(ALL_TYPES);
  try {
    fake.failNext(10_000, 503, 'pods');
    const src = new KubeSource({ ...FAST, kubeconfig: fake.writeKubeconfig(path.join(tmp, 'kc-close')) });
    const p = src.start();
    setTimeout(() => src.close(), 100);
    await assert.rejects(p, (e: MeshError) => e.code === 'MESH_ERR_KUBE_API' && /closed before/.test(e.message));
  } finally { await fake.close(); }
});
