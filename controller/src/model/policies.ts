// Typed views of the L7 policy kinds (FaultPolicy, RateLimitPolicy of policy.nodemesh.io/v1alpha1):
// a Policy (spec already checked against its CRD schema) in, the readonly domain type of
// route-types.ts out, with the rules the schema cannot say (CEL, defaults) checked here too.

import type { Policy } from './types.js';
import type { FaultPolicy, RateLimitPolicy } from './route-types.js';
import { MeshError } from '../../../common/errors.js';
import { Invalid, isObj, obj, type Obj } from './fields.js';
import { durationMs } from './route-syntax.js';

type Target = FaultPolicy['targetRef'];

function targetRef(spec: Obj): Target {
  const t = obj(spec.targetRef, 'spec.targetRef');
  const kind = t.kind;
  if (kind !== 'Service' && kind !== 'HTTPRoute' && kind !== 'GRPCRoute') throw new Invalid('spec.targetRef.kind', `must be Service, HTTPRoute or GRPCRoute, got ${JSON.stringify(kind)}`);
  const want = kind === 'Service' ? '' : 'gateway.networking.k8s.io';
  const group = t.group === undefined ? want : t.group;
  if (group !== want) {
    // the path the API server's CEL rule on targetRef reports
    throw new Invalid('spec.targetRef', 'group must be "" for Service and "gateway.networking.k8s.io" for HTTPRoute and GRPCRoute');
  }
  if (typeof t.name !== 'string' || t.name === '') throw new Invalid('spec.targetRef.name', 'must be a non-empty string');
  return { group: want, kind, name: t.name };
}

function percent(v: unknown, path: string): number {
  if (v === undefined) return 100;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw new Invalid(path, `must be a number in 0..100, got ${JSON.stringify(v)}`);
  return v;
}

function specOf(p: Policy, kind: string): Obj {
  if (p.kind !== kind) throw new Invalid('kind', `expected a ${kind}, got ${p.kind}`);
  if (!isObj(p.spec)) throw new Invalid('spec', 'must be a mapping');
  return p.spec;
}

/** FaultPolicy → typed; Invalid with the field path (at least one of delay and abort; percentages default 100). */
function faultPolicy(p: Policy): FaultPolicy {
  const spec = specOf(p, 'FaultPolicy');
  if (spec.delay === undefined && spec.abort === undefined) throw new Invalid('spec', 'at least one of delay or abort must be set');
  let delay: FaultPolicy['delay'];
  if (spec.delay !== undefined) {
    const d = obj(spec.delay, 'spec.delay');
    delay = { fixedDelayMs: durationMs(d.fixedDelay, 'spec.delay.fixedDelay'), percent: percent(d.percentage, 'spec.delay.percentage') };
  }
  let abort: FaultPolicy['abort'];
  if (spec.abort !== undefined) {
    const a = obj(spec.abort, 'spec.abort');
    const s = a.httpStatus;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 200 || s > 599) throw new Invalid('spec.abort.httpStatus', `must be an integer in 200..599, got ${JSON.stringify(s)}`);
    abort = { httpStatus: s, percent: percent(a.percentage, 'spec.abort.percentage') };
  }
  return Object.freeze({ namespace: p.namespace, name: p.name, targetRef: targetRef(spec), ...(delay ? { delay } : {}), ...(abort ? { abort } : {}) });
}

/** RateLimitPolicy → typed; burst defaults to requestsPerSecond. */
function rateLimitPolicy(p: Policy): RateLimitPolicy {
  const spec = specOf(p, 'RateLimitPolicy');
  const rate = (v: unknown, path: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000) throw new Invalid(path, `must be an integer in 1..1000000, got ${JSON.stringify(v)}`);
    return v;
  };
  const requestsPerSecond = rate(spec.requestsPerSecond, 'spec.requestsPerSecond');
  const burst = spec.burst === undefined ? requestsPerSecond : rate(spec.burst, 'spec.burst');
  return Object.freeze({ namespace: p.namespace, name: p.name, targetRef: targetRef(spec), requestsPerSecond, burst });
}

/** Typed checks of the policy kinds that have them, run by the converter so both sources reject alike (Invalid). */
export const POLICY_CHECKS: Readonly<Record<string, (p: Policy) => unknown>> = { FaultPolicy: faultPolicy, RateLimitPolicy: rateLimitPolicy };

/** For other folders: an invalid policy is a MESH_ERR_CONFIG naming the object and the field path. */
function boundary<T>(of: (p: Policy) => T): (p: Policy) => T {
  return (p) => {
    try {
      return of(p);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      throw new MeshError('MESH_ERR_CONFIG', `${p.kind} ${p.namespace}/${p.name}: ${e.path}: ${e.message}; fix the object (the controller rejects it too)`, { cause: e });
    }
  };
}

/** A FaultPolicy (validated by the converter) as the typed FaultPolicy; MESH_ERR_CONFIG if it is not one. */
export const faultPolicyOf: (p: Policy) => FaultPolicy = boundary(faultPolicy);
/** A RateLimitPolicy as the typed RateLimitPolicy (burst defaults to the rate); MESH_ERR_CONFIG if it is not one. */
export const rateLimitPolicyOf: (p: Policy) => RateLimitPolicy = boundary(rateLimitPolicy);
