export { defaultDataDir } from './data-dir.ts';
export {
  SECRET_FILE,
  PUBLIC_FILE,
  IdentityFileFailure,
  loadOrCreateIdentity,
  loadIdentity,
  saveIdentity,
  describeIdentityFileError,
  type IdentityFileError,
  type LoadedIdentity,
} from './identity-file.ts';
export { type Clock, systemClock } from './clock.ts';
export { type ByteStream, tcpStream, webSocketStream } from './byte-stream.ts';
export { LinkDriver } from './link-driver.ts';
export { type Address, parseAddress, formatAddress } from './address.ts';
export {
  Host,
  DialError,
  DEFAULT_HOST_LIMITS,
  type HostLimits,
  type HostOptions,
  type HostSendError,
} from './host.ts';
export { DhtNode, type DhtNodeOptions, createDhtNodeKeys } from './dht-node.ts';
export { NodeStore, NodeStoreError, type NodeWrite } from './node-store.ts';
export { NodeRuntime, NODE_DB_FILE, type NodeRuntimeOptions, advertisable } from './node-runtime.ts';
export { stopOnSignals, STOP_DEADLINE_MS, type StopSignalsOptions } from './stop-signals.ts';
export * from './relay/index.ts';
export * from './daemon/index.ts';
