// Public surface of report/: the agent's telemetry stream to the controller (snapshots, tap).
export { ReportClient, type ReportClientOptions, type ReportSources } from './client.js';
export { buildSnapshot, type SnapshotWire, type SnapshotInput, type MetricValues, type HttpSeriesWire, type TcpSeriesWire, type PodStateWire, type PeerWire, type AuthzCountWire } from './snapshot.js';
export { tapMatches, toTapEvent, type TapFilter, type TapEventWire } from './tap.js';
