export { SqliteRelayStore, type SqliteRelayStoreOptions } from './sqlite-relay-store.ts';
export { PgRelayStore, type PgRelayStoreOptions } from './pg-relay-store.ts';
export { RelayStoreError } from './relay-store-common.ts';
export { RelayService, type RelayServiceOptions, type RelayLog } from './relay-service.ts';
export { RelayClient, RelayClientError, type RelayClientOptions } from './relay-client.ts';
export { RelayMetrics } from './relay-metrics.ts';
export { NODE_BASE64URL, encodeJsonFrame, decodeFrame } from './ws-frames.ts';
