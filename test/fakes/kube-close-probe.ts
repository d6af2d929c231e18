// Child-process probe for the close() test: starts the fake API server and a KubeSource, leaves
// one watch in backoff, closes both, and must then exit on its own (no handle left behind).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setCrdDir } from '../../controller/src/model/index.js';
import { KubeSource } from '../../controller/src/sources/index.js';
import { FAKE_BUILTIN_TYPES, startFakeApiServer } from './kube-apiserver.js';
import { OBJECTS, TEST_POLICY_TYPE } from './kube-objects.js';

const crdDir = process.argv[2] ?? '';
setCrdDir(crdDir);
const fake = await startFakeApiServer([...FAKE_BUILTIN_TYPES, TEST_POLICY_TYPE]);
for (const o of OBJECTS) fake.apply(o);
const kubeconfig = fake.writeKubeconfig(path.join(mkdtempSync(path.join(tmpdir(), 'nm-probe-')), 'kc'));
const src = new KubeSource({ kubeconfig, crdDir, coalesceMs: 10, backoffInitialMs: 5000 });
const first = await src.start();
fake.failNext(100, 500, 'pods', true);
fake.endWatches('pods');
await new Promise((r) => setTimeout(r, 100)); // the pods watch is now sleeping in its backoff
src.close();
// every connection the source opened must be gone from the server's side too
const open = (): Promise<number> => new Promise((r) => fake.server.getConnections((_e, n) => r(n)));
for (let i = 0; i < 100 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
const left = await open();
if (left > 0) { console.error(`${left} connections still open after close()`); process.exit(1); }
await fake.close();
console.log(`closed with ${first.resources.pods.size} pods`);
