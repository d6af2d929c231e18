// Where the CA's material lives: a state directory (simulated cluster, manifest mode: ca.crt,
// tls.crt, tls.key at mode 0600, written atomically) or a Kubernetes Secret laid out as cert-manager
// writes one (same three keys), read and written with @kubernetes/client-node's CoreV1Api.
// openCa() loads what is there or, when allowed, generates a new CA and stores it.

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { MeshError } from '../../../common/errors.js';
import { clientNode, loadKubeConfig, type KubeConnectOptions } from '../sources/kube/index.js';
import { MeshCA, type CaMaterial, type MeshCaOptions } from './authority.js';
import { joinPem, splitPem } from './x509.js';

export const CA_FILES = { anchors: 'ca.crt', chain: 'tls.crt', key: 'tls.key' } as const;

export interface CaStore {
  /** the stored material, or undefined when there is none yet */
  load(): Promise<CaMaterial | undefined>;
  save(m: CaMaterial): Promise<void>;
  /** for logs and errors: where the material is */
  readonly where: string;
}

/** The three files (or Secret keys) ⇄ material. */
export function materialToFiles(m: CaMaterial): Record<string, string> {
  return { [CA_FILES.anchors]: joinPem(m.anchorsPem), [CA_FILES.chain]: joinPem(m.issuerChainPem), [CA_FILES.key]: m.issuerKeyPem };
}

export function filesToMaterial(files: Readonly<Record<string, string | undefined>>, where: string): CaMaterial {
  const need = (k: string): string => {
    const v = files[k];
    if (v === undefined || v.trim() === '') throw new MeshError('MESH_ERR_CA', `${where} has no ${k}; it needs ${CA_FILES.anchors}, ${CA_FILES.chain} and ${CA_FILES.key}`);
    return v;
  };
  return { anchorsPem: splitPem(need(CA_FILES.anchors)), issuerChainPem: splitPem(need(CA_FILES.chain)), issuerKeyPem: need(CA_FILES.key) };
}

/** Secret data (base64 values) ⇄ files. */
export function secretToFiles(s: Pick<V1Secret, 'data' | 'stringData'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
  return out;
}

export function filesToSecretData(files: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
}

export class DirCaStore implements CaStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  get where(): string {
    return `CA directory ${this.dir}`;
  }

  async load(): Promise<CaMaterial | undefined> {
    const files: Record<string, string | undefined> = {};
    let present = 0;
    for (const f of Object.values(CA_FILES)) {
      try {
        files[f] = readFileSync(path.join(this.dir, f), 'utf8');
        present++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new MeshError('MESH_ERR_CA', `cannot read ${path.join(this.dir, f)}: ${(e as Error).message}`);
      }
    }
    if (present === 0) return undefined;
    return filesToMaterial(files, this.where);
  }

  async save(m: CaMaterial): Promise<void> {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const files = materialToFiles(m);
      // the key first: a crash between writes never leaves a certificate without its key
      for (const f of [CA_FILES.key, CA_FILES.chain, CA_FILES.anchors]) {
        const target = path.join(this.dir, f);
        const tmp = `${target}.tmp`;
        writeFileSync(tmp, files[f]!, { mode: f === CA_FILES.key ? 0o600 : 0o644 });
        if (f === CA_FILES.key) chmodSync(tmp, 0o600);
        renameSync(tmp, target);
      }
    } catch (e) {
      throw new MeshError('MESH_ERR_CA', `cannot write the CA to ${this.dir}: ${(e as Error).message}; check the directory's permissions (--ca-dir)`, { cause: e });
    }
  }
}

export interface SecretCaStoreOptions extends KubeConnectOptions {
  readonly namespace: string;
  readonly name: string;
  /** an already built API client (tests) */
  readonly api?: CoreV1Api;
}

export class SecretCaStore implements CaStore {
  readonly #o: SecretCaStoreOptions;
  #api: CoreV1Api | undefined;
  #resourceVersion: string | undefined;

  constructor(o: SecretCaStoreOptions) {
    this.#o = o;
  }

  get where(): string {
    return `Secret ${this.#o.namespace}/${this.#o.name}`;
  }

  get #client(): CoreV1Api {
    this.#api ??= this.#o.api ?? loadKubeConfig(this.#o).makeApiClient(clientNode().CoreV1Api);
    return this.#api;
  }

  #fail(verb: string, e: unknown): MeshError {
    const code = (e as { code?: unknown }).code;
    if (code === 403) return new MeshError('MESH_ERR_KUBE_FORBIDDEN', `the controller may not ${verb} ${this.where} (403); grant it get/create/update on that Secret`, { cause: e });
    if (code === 401) return new MeshError('MESH_ERR_KUBE_UNAUTHORIZED', `the API server rejected the controller's credentials (401) to ${verb} ${this.where}`, { cause: e });
    return new MeshError('MESH_ERR_KUBE_API', `cannot ${verb} ${this.where}: ${(e as Error).message}`, { cause: e });
  }

  async load(): Promise<CaMaterial | undefined> {
    let s: V1Secret;
    try {
      s = await this.#client.readNamespacedSecret({ name: this.#o.name, namespace: this.#o.namespace });
    } catch (e) {
      if ((e as { code?: unknown }).code === 404) return undefined;
      throw this.#fail('read', e);
    }
    this.#resourceVersion = s.metadata?.resourceVersion;
    return filesToMaterial(secretToFiles(s), this.where);
  }

  async save(m: CaMaterial): Promise<void> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: this.#o.name, namespace: this.#o.namespace, labels: { 'app.kubernetes.io/managed-by': 'nodemesh-controller' }, ...(this.#resourceVersion ? { resourceVersion: this.#resourceVersion } : {}) },
      data: filesToSecretData(materialToFiles(m)),
    };
    try {
      const out = this.#resourceVersion
        ? await this.#client.replaceNamespacedSecret({ name: this.#o.name, namespace: this.#o.namespace, body })
        : await this.#client.createNamespacedSecret({ namespace: this.#o.namespace, body });
      this.#resourceVersion = out.metadata?.resourceVersion;
    } catch (e) {
      if ((e as { code?: unknown }).code === 409) throw new MeshError('MESH_ERR_CA', `${this.where} was changed by someone else meanwhile; restart the controller to load it`, { cause: e });
      throw this.#fail(this.#resourceVersion ? 'update' : 'create', e);
    }
  }
}

export interface OpenCaOptions extends MeshCaOptions {
  /** generate (and store) a CA when the store has none; default true for directories */
  readonly generate: boolean;
}

/** Loads the CA from its store, or generates and stores one when allowed. */
export async function openCa(store: CaStore, o: OpenCaOptions): Promise<{ ca: MeshCA; generated: boolean }> {
  const m = await store.load();
  if (m) return { ca: await MeshCA.load(m, o), generated: false };
  if (!o.generate) throw new MeshError('MESH_ERR_CA', `${store.where} does not exist; create it (cert-manager: ca.crt, tls.crt, tls.key) or pass --ca-generate to let the controller generate one`);
  const ca = await MeshCA.generate(o);
  await store.save(await ca.material());
  return { ca, generated: true };
}
