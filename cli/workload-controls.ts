// The pure parts of the echo workloads: the echo's flags and identity, the per-request controls
// tests send (?status= / x-echo-status, ?delay= / x-echo-delay, ?body-delay=, x-echo-set-header, x-echo-set-trailer),
// the per-process flaky plan (--fail-rate, --fail-every, --fail-status) and small HTTP/gRPC helpers.

import { intFlag, parseFlags, usageError, type FlagValues } from './args.js';

const PORT_RANGE = { min: 1, max: 65535 };
/** Longest delay a request may ask for: tests of timeouts need seconds, never hours. */
export const MAX_DELAY_MS = 600_000;

/** Who this echo is: reported in every HTTP and gRPC answer so tests can count backends. */
export interface EchoIdentity {
  readonly pod: string;
  readonly namespace: string;
  readonly node: string;
  readonly podIP: string;
  readonly service: string;
  readonly version: string;
}

/** A flaky process: every `every`-th request fails, or each with probability `rate`, with `status`. */
export interface FailPlan {
  readonly rate: number;
  readonly every: number;
  readonly status: number;
}

export interface EchoOptions {
  readonly http?: number;
  readonly tcp?: number;
  readonly h2c?: number;
  readonly grpc?: number;
  readonly name?: string;
  readonly version?: string;
  readonly fail?: FailPlan;
  /** OTLP/HTTP collector (http://host:port or host:port) for the echo's own server spans */
  readonly otlp?: string;
}

export const ECHO_FLAGS = {
  http: { type: 'string' }, tcp: { type: 'string' }, h2c: { type: 'string' }, grpc: { type: 'string' },
  name: { type: 'string' }, version: { type: 'string' }, otlp: { type: 'string' },
  'fail-rate': { type: 'string' }, 'fail-every': { type: 'string' }, 'fail-status': { type: 'string' },
} as const;

function fractionFlag(values: FlagValues, name: string, usage: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n <= 1)) throw usageError(`--${name} must be a fraction in 0..1 (e.g. 0.5), got "${String(v)}"`, usage);
  return n;
}

function otlpFlag(v: string, usage: string): string {
  if (!/^(https?:\/\/)?[A-Za-z0-9.-]+:[0-9]{1,5}\/?$/.test(v)) throw usageError(`--otlp must be an OTLP/HTTP collector, http://HOST:PORT, got "${v}"`, usage);
  return v;
}

/** `workload echo` flags → options; every mistake is MESH_ERR_USAGE with the usage line. */
export function parseEchoFlags(argv: readonly string[], usage: string): EchoOptions {
  const { values } = parseFlags(argv, ECHO_FLAGS, usage);
  const ports = {
    http: intFlag(values, 'http', usage, PORT_RANGE),
    tcp: intFlag(values, 'tcp', usage, PORT_RANGE),
    h2c: intFlag(values, 'h2c', usage, PORT_RANGE),
    grpc: intFlag(values, 'grpc', usage, PORT_RANGE),
  };
  const given = Object.entries(ports).filter((e): e is [string, number] => e[1] !== undefined);
  if (given.length === 0) throw usageError('give at least one of --http PORT, --tcp PORT, --h2c PORT, --grpc PORT', usage);
  const seen = new Map<number, string>();
  for (const [k, p] of given) {
    const other = seen.get(p);
    if (other) throw usageError(`--${other} and --${k} both ask for port ${p}; give each server its own port`, usage);
    seen.set(p, k);
  }
  const rate = fractionFlag(values, 'fail-rate', usage);
  const every = intFlag(values, 'fail-every', usage, { min: 1, max: 1_000_000 });
  const status = intFlag(values, 'fail-status', usage, { min: 400, max: 599 });
  if (rate !== undefined && every !== undefined) throw usageError('give --fail-rate or --fail-every, not both', usage);
  if (status !== undefined && rate === undefined && every === undefined) throw usageError('--fail-status needs --fail-rate or --fail-every', usage);
  for (const f of ['name', 'version'] as const) {
    const v = values[f];
    if (typeof v === 'string' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v)) throw usageError(`--${f} must be 1-63 letters, digits, ".", "_" or "-", got "${v}"`, usage);
  }
  return {
    ...(ports.http !== undefined ? { http: ports.http } : {}),
    ...(ports.tcp !== undefined ? { tcp: ports.tcp } : {}),
    ...(ports.h2c !== undefined ? { h2c: ports.h2c } : {}),
    ...(ports.grpc !== undefined ? { grpc: ports.grpc } : {}),
    ...(typeof values.name === 'string' ? { name: values.name } : {}),
    ...(typeof values.otlp === 'string' ? { otlp: otlpFlag(values.otlp, usage) } : {}),
    ...(typeof values.version === 'string' ? { version: values.version } : {}),
    ...(rate !== undefined || every !== undefined ? { fail: { rate: rate ?? 0, every: every ?? 0, status: status ?? 503 } } : {}),
  };
}

/** The identity from the pod's environment (sim/pods.ts sets POD_*, NODE_NAME); flags win over env. */
export function echoIdentity(env: Readonly<Record<string, string | undefined>>, hostname: string, flags: { name?: string; version?: string } = {}): EchoIdentity {
  return {
    pod: env.POD_NAME ?? hostname,
    namespace: env.POD_NAMESPACE ?? '',
    node: env.NODE_NAME ?? '',
    podIP: env.POD_IP ?? '',
    service: flags.name ?? env.SERVICE_NAME ?? '',
    version: flags.version ?? env.SERVICE_VERSION ?? '',
  };
}

/** Response headers naming the backend (also on 101 and on failures), for curl -i and streams. */
export function identityHeaders(id: EchoIdentity): Record<string, string> {
  const h: Record<string, string> = { 'x-echo-pod': id.pod };
  if (id.namespace) h['x-echo-namespace'] = id.namespace;
  if (id.service) h['x-echo-service'] = id.service;
  if (id.version) h['x-echo-version'] = id.version;
  return h;
}

/** Does the n-th request (1-based) fail? `u` in [0,1) is the random draw for --fail-rate. */
export function failsAt(plan: FailPlan | undefined, n: number, u: number): boolean {
  if (!plan) return false;
  if (plan.every > 0) return n % plan.every === 0;
  return u < plan.rate;
}

/** The per-process request counter behind failsAt, shared by the HTTP, h2c and gRPC servers. */
export class Flaky {
  private n = 0;
  constructor(readonly plan: FailPlan | undefined, private readonly random: () => number = Math.random) {}
  /** Counts one request (with or without a plan); true when it must fail. */
  next(): boolean {
    this.n += 1;
    if (!this.plan) return false;
    return failsAt(this.plan, this.n, this.random());
  }
  /** Requests counted so far (the HTTP echo reports it as `x-echo-requests`, so tests can count
   *  what reached the process, e.g. the retries a proxy made). */
  get count(): number {
    return this.n;
  }
  describe(): string {
    if (!this.plan) return 'none';
    return this.plan.every > 0 ? `--fail-every ${this.plan.every}` : `--fail-rate ${this.plan.rate}`;
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go duration syntax ("200ms", "1.5s", "1m30s") or bare milliseconds ("250") → ms; undefined if malformed. */
export function parseDurationMs(s: string): number | undefined {
  const t = s.trim();
  if (/^\d{1,9}$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(ms);
}

export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** "a:1, b:2" (repeatable) → [["a","1"],["b","2"]], as the conformance echo's X-Echo-Set-Header. */
export function parseHeaderPairs(values: readonly string[], what: string): [string, string][] {
  const out: [string, string][] = [];
  for (const v of values) {
    for (const part of v.split(',')) {
      const p = part.trim();
      if (p === '') continue;
      const i = p.indexOf(':');
      const name = (i < 0 ? p : p.slice(0, i)).trim();
      if (i < 0 || !TOKEN.test(name)) throw new Error(`${what} "${p}" must be name:value with a header name made of token characters`);
      out.push([name, p.slice(i + 1).trim()]);
    }
  }
  return out;
}

export interface RequestControls {
  readonly status?: number;
  readonly delayMs?: number;
  /** after the response head and the body's first byte, wait this long before the rest */
  readonly bodyDelayMs?: number;
  readonly setHeaders: readonly [string, string][];
  readonly setTrailers: readonly [string, string][];
}

export type ControlsResult = { readonly ok: true; readonly controls: RequestControls } | { readonly ok: false; readonly error: string };

type HeaderValue = string | readonly string[] | undefined;
const list = (v: HeaderValue): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : [...v]);
const last = (v: HeaderValue): string | undefined => list(v).at(-1);

/**
 * The controls of one request, from its query (raw, without '?') and headers (lowercase names).
 * A header wins over the query parameter of the same control, so a route filter can set it.
 */
export function requestControls(query: string, header: (name: string) => HeaderValue): ControlsResult {
  const q = new URLSearchParams(query);
  const statusText = last(header('x-echo-status')) ?? q.get('status') ?? undefined;
  const delayText = last(header('x-echo-delay')) ?? q.get('delay') ?? undefined;
  let status: number | undefined;
  if (statusText !== undefined) {
    status = /^\d{3}$/.test(statusText.trim()) ? Number(statusText.trim()) : NaN;
    if (!(status >= 200 && status <= 599)) return { ok: false, error: `status "${statusText}" must be an HTTP status code in 200..599 (?status=503 or x-echo-status: 503)` };
  }
  let delayMs: number | undefined;
  if (delayText !== undefined) {
    delayMs = parseDurationMs(delayText);
    if (delayMs === undefined || delayMs > MAX_DELAY_MS) return { ok: false, error: `delay "${delayText}" must be a duration up to 10m such as 200ms, 1.5s or 250 (ms)` };
  }
  const bodyDelayText = last(header('x-echo-body-delay')) ?? q.get('body-delay') ?? undefined;
  let bodyDelayMs: number | undefined;
  if (bodyDelayText !== undefined) {
    bodyDelayMs = parseDurationMs(bodyDelayText);
    if (bodyDelayMs === undefined || bodyDelayMs > MAX_DELAY_MS) return { ok: false, error: `body-delay "${bodyDelayText}" must be a duration up to 10m such as 200ms, 1.5s or 250 (ms)` };
  }
  try {
    return {
      ok: true,
      controls: {
        ...(status !== undefined ? { status } : {}),
        ...(delayMs !== undefined ? { delayMs } : {}),
        ...(bodyDelayMs !== undefined ? { bodyDelayMs } : {}),
        setHeaders: parseHeaderPairs(list(header('x-echo-set-header')), 'x-echo-set-header'),
        setTrailers: parseHeaderPairs(list(header('x-echo-set-trailer')), 'x-echo-set-trailer'),
      },
    };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** Go's textproto canonical form, as the conformance echo reports names: "x-forwarded-for" → "X-Forwarded-For". */
export function canonicalHeaderName(name: string): string {
  if (!TOKEN.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** The conformance echo's `headers`: canonical name → every value, in arrival order; pseudo-headers left out. */
export function conformanceHeaders(rawHeaders: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.startsWith(':')) continue;
    (out[canonicalHeaderName(name)] ??= []).push(rawHeaders[i + 1]!);
  }
  return out;
}

/** HTTP status → gRPC status code, as gRPC's "HTTP to gRPC Status Code Mapping" document says. */
export function grpcCodeForHttp(status: number): number {
  switch (status) {
    case 400: return 13; // INTERNAL
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 404: return 12; // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return 14; // UNAVAILABLE
    default: return 2; // UNKNOWN
  }
}
