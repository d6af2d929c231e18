// Turns Kubernetes-style YAML documents into validated domain objects (types.ts). Each object is
// checked alone: a bad one becomes a ManifestProblem with file, kind, name and field path, and the
// others are still returned. Pure: no file system access (source.ts reads the files).

import { parseAllDocuments } from 'yaml';
import { isIPv4 } from 'node:net';
import type { ContainerPort, Labels, ManifestProblem, Namespace, Pod, Service, ServiceAccount, ServicePort } from './types.js';
import { CAPTURE_ANNOTATION, MESH_LABEL } from './types.js';

export type ParsedObject =
  | { readonly kind: 'Namespace'; readonly value: Namespace }
  | { readonly kind: 'ServiceAccount'; readonly value: ServiceAccount }
  | { readonly kind: 'Pod'; readonly value: Pod }
  | { readonly kind: 'Service'; readonly value: Service };

export interface ParseResult {
  readonly objects: readonly ParsedObject[];
  readonly problems: readonly ManifestProblem[];
  /** kinds present but not served by this component (e.g. Deployment), counted, not errors */
  readonly ignored: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

class Invalid extends Error {
  constructor(readonly path: string, message: string) { super(message); }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, path: string, optional = false): Obj {
  if (v === undefined && optional) return {};
  if (!isObj(v)) throw new Invalid(path, 'must be a mapping');
  return v;
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new Invalid(path, 'must be a non-empty string');
  return v;
}
function optStr(v: unknown, path: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, path);
}
function name(v: unknown, path: string, re = DNS_SUBDOMAIN): string {
  const s = str(v, path);
  if (s.length > 253 || !re.test(s)) throw new Invalid(path, `"${s}" is not a valid name (lower-case letters, digits, "-")`);
  return s;
}
function port(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new Invalid(path, `must be an integer port in 1..65535, got ${JSON.stringify(v)}`);
  return v;
}
function strMap(v: unknown, path: string): Labels {
  const o = obj(v, path, true);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string') throw new Invalid(`${path}.${k}`, `must be a string, got ${JSON.stringify(val)} (quote it in YAML)`);
    out[k] = val;
  }
  return Object.freeze(out);
}
function protocol(v: unknown, path: string): 'TCP' | 'UDP' {
  if (v === undefined) return 'TCP';
  if (v !== 'TCP' && v !== 'UDP') throw new Invalid(path, `must be TCP or UDP, got ${JSON.stringify(v)}`);
  return v;
}
function strList(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) throw new Invalid(path, 'must be a list of strings');
  return v.map((x, i) => {
    if (typeof x !== 'string' && typeof x !== 'number') throw new Invalid(`${path}[${i}]`, 'must be a string');
    return String(x);
  });
}

function parseNamespace(o: Obj): Namespace {
  const meta = obj(o.metadata, 'metadata');
  const labels = strMap(meta.labels, 'metadata.labels');
  const mesh = labels[MESH_LABEL];
  if (mesh !== undefined && mesh !== 'enabled' && mesh !== 'disabled') {
    throw new Invalid(`metadata.labels.${MESH_LABEL}`, `must be "enabled" or "disabled", got "${mesh}"`);
  }
  return { name: name(meta.name, 'metadata.name', DNS_LABEL), labels, meshEnabled: mesh === 'enabled' };
}

function parseServiceAccount(o: Obj): ServiceAccount {
  const meta = obj(o.metadata, 'metadata');
  return { namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL), name: name(meta.name, 'metadata.name') };
}

function parsePod(o: Obj): Pod {
  const meta = obj(o.metadata, 'metadata');
  const spec = obj(o.spec, 'spec');
  const status = obj(o.status, 'status', true);
  const annotations = strMap(meta.annotations, 'metadata.annotations');
  const capture = annotations[CAPTURE_ANNOTATION];
  if (capture !== undefined && capture !== 'true' && capture !== 'false') {
    throw new Invalid(`metadata.annotations.${CAPTURE_ANNOTATION}`, `must be "true" or "false", got "${capture}"`);
  }
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) throw new Invalid('spec.containers', 'must be a non-empty list');
  const c0 = obj(containers[0], 'spec.containers[0]');
  const cmd = c0.command === undefined ? undefined : strList(c0.command, 'spec.containers[0].command');
  const args = c0.args === undefined ? [] : strList(c0.args, 'spec.containers[0].args');
  const env: Record<string, string> = {};
  if (c0.env !== undefined) {
    if (!Array.isArray(c0.env)) throw new Invalid('spec.containers[0].env', 'must be a list of {name, value}');
    c0.env.forEach((e, i) => {
      const eo = obj(e, `spec.containers[0].env[${i}]`);
      env[str(eo.name, `spec.containers[0].env[${i}].name`)] = String(eo.value ?? '');
    });
  }
  const ports: ContainerPort[] = [];
  if (c0.ports !== undefined) {
    if (!Array.isArray(c0.ports)) throw new Invalid('spec.containers[0].ports', 'must be a list');
    c0.ports.forEach((p, i) => {
      const po = obj(p, `spec.containers[0].ports[${i}]`);
      const pname = optStr(po.name, `spec.containers[0].ports[${i}].name`);
      ports.push({
        ...(pname ? { name: pname } : {}),
        containerPort: port(po.containerPort, `spec.containers[0].ports[${i}].containerPort`),
        protocol: protocol(po.protocol, `spec.containers[0].ports[${i}].protocol`),
      });
    });
  }
  const podIP = optStr(status.podIP, 'status.podIP');
  if (podIP !== undefined && !isIPv4(podIP)) throw new Invalid('status.podIP', `"${podIP}" is not an IPv4 address`);
  const command = cmd === undefined ? (args.length ? args : undefined) : [...cmd, ...args];
  return {
    namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL),
    name: name(meta.name, 'metadata.name'),
    nodeName: name(spec.nodeName, 'spec.nodeName'),
    serviceAccount: name(spec.serviceAccountName ?? 'default', 'spec.serviceAccountName'),
    labels: strMap(meta.labels, 'metadata.labels'),
    annotations,
    captureOptOut: capture === 'false',
    ...(podIP ? { podIP } : {}),
    ...(command ? { command: Object.freeze(command) } : {}),
    env: Object.freeze(env),
    ports: Object.freeze(ports),
  };
}

function parseService(o: Obj): Service {
  const meta = obj(o.metadata, 'metadata');
  const spec = obj(o.spec, 'spec');
  const clusterIP = optStr(spec.clusterIP, 'spec.clusterIP');
  if (clusterIP !== undefined && clusterIP !== 'None' && !isIPv4(clusterIP)) throw new Invalid('spec.clusterIP', `"${clusterIP}" is not an IPv4 address`);
  if (!Array.isArray(spec.ports) || spec.ports.length === 0) throw new Invalid('spec.ports', 'must be a non-empty list');
  const ports: ServicePort[] = spec.ports.map((p, i) => {
    const po = obj(p, `spec.ports[${i}]`);
    const pname = optStr(po.name, `spec.ports[${i}].name`);
    const svcPort = port(po.port, `spec.ports[${i}].port`);
    const tp = po.targetPort === undefined ? svcPort : typeof po.targetPort === 'string' ? po.targetPort : port(po.targetPort, `spec.ports[${i}].targetPort`);
    return { ...(pname ? { name: pname } : {}), port: svcPort, targetPort: tp, protocol: protocol(po.protocol, `spec.ports[${i}].protocol`) };
  });
  return {
    namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL),
    name: name(meta.name, 'metadata.name', DNS_LABEL),
    ...(clusterIP && clusterIP !== 'None' ? { clusterIP } : {}),
    selector: strMap(spec.selector, 'spec.selector'),
    ports: Object.freeze(ports),
  };
}

const PARSERS = { Namespace: parseNamespace, ServiceAccount: parseServiceAccount, Pod: parsePod, Service: parseService } as const;
type Kind = keyof typeof PARSERS;

/** Parses one file's text (multi-document YAML, `kind: List` allowed). */
export function parseManifests(file: string, text: string): ParseResult {
  const objects: ParsedObject[] = [];
  const problems: ManifestProblem[] = [];
  let ignored = 0;
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, di) => {
    if (doc.errors.length > 0) {
      problems.push({ file, kind: '?', path: `document[${di}]`, message: `YAML syntax: ${doc.errors[0]?.message.split('\n')[0]}` });
      return;
    }
    const root: unknown = doc.toJS();
    if (root === null || root === undefined) return;
    const items = isObj(root) && root.kind === 'List' && Array.isArray(root.items) ? root.items : [root];
    for (const item of items) {
      if (!isObj(item)) { problems.push({ file, kind: '?', path: `document[${di}]`, message: 'must be a mapping with apiVersion and kind' }); continue; }
      const kind = typeof item.kind === 'string' ? item.kind : '?';
      const meta = isObj(item.metadata) ? item.metadata : {};
      const nm = typeof meta.name === 'string' ? meta.name : undefined;
      const ns = typeof meta.namespace === 'string' ? meta.namespace : undefined;
      if (!(kind in PARSERS)) {
        if (kind === '?') problems.push({ file, kind, path: 'kind', message: 'missing kind' });
        else ignored++;
        continue;
      }
      try {
        const k = kind as Kind;
        objects.push({ kind: k, value: PARSERS[k](item) } as ParsedObject);
      } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        problems.push({ file, kind, ...(ns ? { namespace: ns } : {}), ...(nm ? { name: nm } : {}), path: e.path, message: e.message });
      }
    }
  });
  return { objects, problems, ignored };
}

/** A one-line description of a problem, for logs and /config_dump. */
export function formatProblem(p: ManifestProblem): string {
  const who = `${p.kind}${p.namespace ? ` ${p.namespace}/` : ' '}${p.name ?? '?'}`;
  return `${p.file}: ${who}: ${p.path}: ${p.message}`;
}
