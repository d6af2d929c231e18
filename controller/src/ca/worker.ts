// A signing worker thread of SignPool: loads the CA's issuer from the material it is handed (never
// from disk) and answers {id, csrPem, identity} with the signed chain or the MeshError's code.

import { parentPort, workerData } from 'node:worker_threads';
import { MeshCA, type CaMaterial, type MeshCaOptions } from './authority.js';

const port = parentPort!;
const init = workerData as { material: CaMaterial; options: MeshCaOptions };
let ca: MeshCA;
try {
  ca = await MeshCA.load(init.material, init.options);
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: (e as Error).message });
  process.exit(1);
}

port.on('message', (m: { id: number; csrPem: string; identity: string } | { reload: CaMaterial }) => {
  if ('reload' in m) {
    void MeshCA.load(m.reload, init.options).then((next) => { ca = next; }, () => undefined);
    return;
  }
  ca.sign(m.csrPem, m.identity).then(
    (cert) => port.postMessage({ id: m.id, cert }),
    (e: unknown) => port.postMessage({ id: m.id, error: { code: (e as { code?: string }).code ?? 'MESH_ERR_CA', message: (e as Error).message } }),
  );
});
