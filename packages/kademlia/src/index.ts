export { ID_BYTES, ID_BITS, xorDistance, compareDistance, commonPrefixBits, idInBucket } from './distance.ts';
export { DEFAULT_KADEMLIA_LIMITS, resolveKademliaLimits, type KademliaLimits } from './limits.ts';
export { RoutingTable, type Contact, type Observation } from './routing-table.ts';
export {
  recordKey,
  signRecord,
  encodeRecord,
  decodeRecord,
  readRecord,
  recordBytesMax,
  checkRecord,
  compareVersions,
  type SignedRecord,
  type RecordFields,
  type RecordLimits,
  type RecordError,
} from './records.ts';
export {
  KADEMLIA_PROTOCOL,
  CONTACT_ADDRESSES_MAX,
  RID_MAX,
  encodeMessage,
  decodeMessage,
  messageBytesMax,
  type KadMessage,
  type MessageLimits,
} from './messages.ts';
export {
  RecordStore,
  keyOf,
  type StoreError,
  type StoreOutcome,
  type StoreLimits,
  type StoredEntry,
} from './record-store.ts';
export { LookupPath, type Claims } from './lookup-path.ts';
export { KademliaMachine, type KademliaEvent, type KademliaOptions, type LookupOptions } from './machine.ts';
export type { QueryId } from './query.ts';
export {
  IDENTITY_SALT,
  identityRecordKey,
  signIdentityRecord,
  openIdentityRecord,
  type IdentityRecordError,
} from './identity-record.ts';
export { kademliaProgram, simContact, SIM_WALL_EPOCH_MS } from './sim-program.ts';
export { ID_PUZZLE_BITS_MAX, meetsIdPuzzle } from './id-puzzle.ts';
export { kademliaScenario, type KademliaScenarioOptions } from './sim-scenario.ts';
