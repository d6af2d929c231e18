// The config stream's message codec, as grpc-js runs it on both ends: a ConfigUpdate to the
// protobuf bytes the controller writes (what a view or a delta costs on the wire), and those bytes
// back to a validated ConfigUpdate (what an agent does before applyUpdate).

import { configServiceDefinition, fromWire, toWire } from '../../controller/src/grpc/index.js';
import type { ConfigUpdate } from '../../controller/src/views/index.js';

const stream = configServiceDefinition.Stream;
if (!stream) throw new Error('config.proto has no Stream method');
const method = stream;

/** The serialized ConfigUpdate message (without the 5-byte gRPC frame header). */
export function encodeUpdate(u: ConfigUpdate): Buffer {
  return method.responseSerialize(toWire(u));
}

export function decodeUpdate(bytes: Buffer): ConfigUpdate {
  return fromWire(method.responseDeserialize(bytes));
}
