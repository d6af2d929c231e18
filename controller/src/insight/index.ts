// Public surface of insight/: what agents report (snapshots, tap records) and the pure answers
// built from it — `stat` rows, the service graph's edges, tap sessions.
export { ReportStore, snapshotFromWire, type Snapshot, type PodState, type HttpCounters, type TcpCounters, type AuthzCounters, type Peer } from './reports.js';
export { stat, edges, quantile, deltas, type StatRow, type StatQuery, type StatKind, type Edge, type WindowPair } from './stat.js';
export { TapHub, tapRecordFromWire, type TapFilterSpec, type TapRecord, type TapCommand } from './tap.js';
