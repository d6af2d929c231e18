// Converters for the core kinds (Namespace, ServiceAccount, Pod, Service): a raw Kubernetes object
// in, a validated readonly domain object out, or Invalid with the field path.

import { isIPv4 } from 'node:net';
import type { ContainerPort, Namespace, Pod, Service, ServiceAccount, ServicePort } from './types.js';
import { ACCESS_LOG_ANNOTATION, TRACE_SAMPLING_ANNOTATION, CAPTURE_ANNOTATION, DEFAULT_INBOUND_POLICIES, DEFAULT_INBOUND_POLICY_ANNOTATION, MESH_LABEL, OPAQUE_PORTS_ANNOTATION, type DefaultInboundPolicy } from './types.js';
import { DNS_LABEL, Invalid, name, obj, optStr, port, protocol, str, strList, strMap, type Obj } from './fields.js';

export function parseNamespace(o: Obj): Namespace {
  const meta = obj(o.metadata, 'metadata');
  const labels = strMap(meta.labels, 'metadata.labels');
  const mesh = labels[MESH_LABEL];
  if (mesh !== undefined && mesh !== 'enabled' && mesh !== 'disabled') {
    throw new Invalid(`metadata.labels.${MESH_LABEL}`, `must be "enabled" or "disabled", got "${mesh}"`);
  }
  const policy = strMap(meta.annotations, 'metadata.annotations')[DEFAULT_INBOUND_POLICY_ANNOTATION];
  if (policy !== undefined && !(DEFAULT_INBOUND_POLICIES as readonly string[]).includes(policy)) {
    throw new Invalid(`metadata.annotations.${DEFAULT_INBOUND_POLICY_ANNOTATION}`, `must be one of ${DEFAULT_INBOUND_POLICIES.join(', ')}, got "${policy}"`);
  }
  const opaque = opaquePorts(meta);
  const accessLog = strMap(meta.annotations, 'metadata.annotations')[ACCESS_LOG_ANNOTATION];
  if (accessLog !== undefined && accessLog !== 'enabled' && accessLog !== 'disabled') {
    throw new Invalid(`metadata.annotations.${ACCESS_LOG_ANNOTATION}`, `must be "enabled" or "disabled", got "${accessLog}"`);
  }
  const sampling = strMap(meta.annotations, 'metadata.annotations')[TRACE_SAMPLING_ANNOTATION];
  const traceSampling = sampling === undefined ? undefined : Number(sampling.trim());
  if (sampling !== undefined && (!/^\s*[0-9]+(\.[0-9]+)?\s*$/.test(sampling) || !(traceSampling! >= 0 && traceSampling! <= 100))) {
    throw new Invalid(`metadata.annotations.${TRACE_SAMPLING_ANNOTATION}`, `must be a percentage from 0 to 100 (e.g. "1" or "0.5"), got "${sampling}"`);
  }
  return {
    name: name(meta.name, 'metadata.name', DNS_LABEL), labels, meshEnabled: mesh === 'enabled',
    ...(traceSampling !== undefined ? { traceSampling } : {}),
    ...(policy ? { defaultInboundPolicy: policy as DefaultInboundPolicy } : {}),
    ...(opaque ? { opaquePorts: opaque } : {}),
    ...(accessLog === 'enabled' ? { accessLog: true } : {}),
  };
}

/** The nodemesh.io/opaque-ports annotation: "3306,5432" or ranges "4000-4100", sorted, unique. */
function opaquePorts(meta: Obj): readonly number[] | undefined {
  const v = strMap(meta.annotations, 'metadata.annotations')[OPAQUE_PORTS_ANNOTATION];
  if (v === undefined) return undefined;
  const path = `metadata.annotations.${OPAQUE_PORTS_ANNOTATION}`;
  const out = new Set<number>();
  for (const part of v.split(',').map((x) => x.trim())) {
    const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi > 65535 || hi < lo) throw new Invalid(path, `"${v}" must be a comma-separated list of ports (1..65535) or ranges "lo-hi", e.g. "3306,5432"; "${part}" is not`);
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  return Object.freeze([...out].sort((a, b) => a - b));
}

export function parseServiceAccount(o: Obj): ServiceAccount {
  const meta = obj(o.metadata, 'metadata');
  return { namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL), name: name(meta.name, 'metadata.name') };
}

export function parsePod(o: Obj): Pod {
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

export function parseService(o: Obj): Service {
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
    const appProtocol = optStr(po.appProtocol, `spec.ports[${i}].appProtocol`);
    return { ...(pname ? { name: pname } : {}), port: svcPort, targetPort: tp, protocol: protocol(po.protocol, `spec.ports[${i}].protocol`), ...(appProtocol ? { appProtocol } : {}) };
  });
  const opaque = opaquePorts(meta);
  return {
    namespace: name(meta.namespace ?? 'default', 'metadata.namespace', DNS_LABEL),
    name: name(meta.name, 'metadata.name', DNS_LABEL),
    ...(clusterIP && clusterIP !== 'None' ? { clusterIP } : {}),
    selector: strMap(spec.selector, 'spec.selector'),
    ports: Object.freeze(ports),
    ...(opaque ? { opaquePorts: opaque } : {}),
  };
}

