// `workload echo --grpc PORT`: nodemesh.echo.v1.Echo (proto/nodemesh/echo/v1/echo.proto) with
// grpc.health.v1.Health (Check, Watch; NOT_SERVING while shutting down) and server reflection, so
// grpcurl needs no proto file. Loaded only when --grpc is given (grpc-js is heavy for `workload get`).

import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO } from 'grpc-health-check';
import { MeshError } from '../common/errors.js';
import { grpcCodeForHttp, parseDurationMs, MAX_DELAY_MS, type EchoIdentity, type Flaky } from './workload-controls.js';
import { plainAddress } from './workload-http.js';
import { reflectable } from './workload-reflection.js';

const ECHO_PROTO = fileURLToPath(new URL('../../proto/nodemesh/echo/v1/echo.proto', import.meta.url));
export const ECHO_SERVICE = 'nodemesh.echo.v1.Echo';
const MAX_STREAM = 10_000;

interface EchoRequest { message: string; delayMs: number }
interface ServerStreamRequest { message: string; count: number; intervalMs: number }
interface FailRequest { code: number; message: string }
interface EchoResponse {
  message: string; pod: string; namespace: string; node: string; service: string; version: string;
  fullyQualifiedMethod: string; authority: string; headers: { key: string; value: string }[]; client: string; sequence: number;
}

/** What the handlers use of a server call (grpc-js does not export its ServerSurfaceCall). */
interface Call {
  readonly metadata: grpc.Metadata;
  getPeer(): string;
  getHost(): string;
  once(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

/** The package definition of the echo and health protos together, as reflection serves them. */
export function echoPackageDefinition(): loader.PackageDefinition {
  return loader.loadSync([ECHO_PROTO, HEALTH_PROTO], { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
}

function identityMetadata(id: EchoIdentity): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-echo-pod', id.pod);
  if (id.namespace) md.set('x-echo-namespace', id.namespace);
  if (id.service) md.set('x-echo-service', id.service);
  if (id.version) md.set('x-echo-version', id.version);
  return md;
}

/** "::ffff:127.0.0.1:5000" / "[::1]:5000" → "127.0.0.1:5000" / "[::1]:5000" */
function peer(call: Call): string {
  return plainAddress(call.getPeer());
}

function describe(id: EchoIdentity, call: Call, method: string, message: string, sequence: number): EchoResponse {
  const headers: { key: string; value: string }[] = [];
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    for (const v of values) headers.push({ key, value: typeof v === 'string' ? v : Buffer.from(v).toString('base64') });
  }
  return {
    message, pod: id.pod, namespace: id.namespace, node: id.node, service: id.service, version: id.version,
    fullyQualifiedMethod: `/${ECHO_SERVICE}/${method}`, authority: call.getHost(), headers, client: peer(call), sequence,
  };
}

/** The delay a call asks for: metadata x-echo-delay ("200ms") wins over the request's delay_ms. */
function callDelay(md: grpc.Metadata, fieldMs: number): number | Error {
  const v = md.get('x-echo-delay').at(-1);
  if (v === undefined) return Math.min(fieldMs, MAX_DELAY_MS);
  const ms = parseDurationMs(String(v));
  return ms === undefined || ms > MAX_DELAY_MS ? new Error(`x-echo-delay "${String(v)}" must be a duration up to 10m such as 200ms or 1.5s`) : ms;
}

/** A call's final status (grpc-js wants an Error carrying code, details and trailing metadata). */
function grpcError(code: number, details: string, metadata: grpc.Metadata): grpc.ServerErrorResponse {
  return Object.assign(new Error(details), { code, details, metadata });
}

const after = (ms: number, call: Call): Promise<boolean> => new Promise((resolve) => {
  if (ms <= 0) return resolve(true);
  const cancelled = (): void => { clearTimeout(t); resolve(false); };
  const t = setTimeout(() => { call.removeListener('cancelled', cancelled); resolve(true); }, ms);
  call.once('cancelled', cancelled);
});

export interface GrpcEcho { readonly server: grpc.Server; readonly port: number; close(): Promise<void> }

export async function startGrpcEcho(id: EchoIdentity, flaky: Flaky, port: number, host: string): Promise<GrpcEcho> {
  const def = echoPackageDefinition();
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': 'SERVING', [ECHO_SERVICE]: 'SERVING' });
  health.addToServer(server);
  new ReflectionService(reflectable(def)).addToServer(server);
  const trailer = (): grpc.Metadata => identityMetadata(id);
  const injected = (): grpc.ServerErrorResponse => grpcError(grpcCodeForHttp(flaky.plan!.status), `injected failure (${flaky.describe()})`, trailer());

  const unary = (method: string) => async (call: grpc.ServerUnaryCall<EchoRequest & Partial<FailRequest>, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>): Promise<void> => {
    call.sendMetadata(identityMetadata(id));
    if (flaky.next()) return cb(injected());
    const delay = callDelay(call.metadata, call.request.delayMs ?? 0);
    if (delay instanceof Error) return cb(grpcError(grpc.status.INVALID_ARGUMENT, delay.message, trailer()));
    if (!(await after(delay, call))) return;
    const code = call.request.code ?? 0;
    if (method === 'Fail' && code !== 0) {
      if (code > 16) return cb(grpcError(grpc.status.INVALID_ARGUMENT, `code ${code} is not a gRPC status code (1..16)`, trailer()));
      return cb(grpcError(code, call.request.message || `failed as asked (code ${code})`, trailer()));
    }
    cb(null, describe(id, call, method, call.request.message ?? '', 0), trailer());
  };

  server.addService(def[ECHO_SERVICE] as unknown as grpc.ServiceDefinition, {
    Echo: unary('Echo'),
    Fail: unary('Fail'),
    ServerStream: async (call: grpc.ServerWritableStream<ServerStreamRequest, EchoResponse>) => {
      call.sendMetadata(identityMetadata(id));
      if (flaky.next()) return call.emit('error', injected());
      const count = Math.min(Math.max(call.request.count, 1), MAX_STREAM);
      for (let i = 1; i <= count; i++) {
        if (i > 1 && !(await after(call.request.intervalMs, call))) return;
        if (call.cancelled) return;
        call.write(describe(id, call, 'ServerStream', call.request.message, i));
      }
      call.end(trailer());
    },
  });

  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => {
      if (e) reject(new MeshError('MESH_ERR_LISTEN', `echo gRPC server cannot listen on ${host}:${port}: ${e.message}; pick a free port`));
      else resolve(p);
    });
  });
  return {
    server,
    port: bound,
    close: async () => {
      // Watchers see NOT_SERVING before the server goes; calls in flight get a short grace.
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(ECHO_SERVICE, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 1000);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
    },
  };
}
