export { type RelayLimits, DEFAULT_RELAY_LIMITS, relayLimits } from './limits.ts';
export {
  SIGN_DOMAIN,
  RELAY_PROTOCOL,
  RECORD_ID_BYTES,
  NONCE_BYTES,
  REQUEST_TYPES,
  type WriteRequest,
  type ReadRequest,
  type InventoryRequest,
  type ListenRequest,
  type DeleteRequest,
  type UsageRequest,
  type RelayRequest,
  type ResultAnswer,
  type ErrorAnswer,
  type PushAnswer,
  type RelayAnswer,
  type RelayBody,
  type RelayMessage,
  type UnsignedRelayMessage,
  type SigningKey,
  isRequest,
  messageReader,
  decodeRelayMessage,
  readRelayValue,
  type RelayDecodeError,
  encodeRelayMessage,
  messageValue,
  signingBytes,
  signRelayMessage,
  verifyRelayMessage,
} from './messages.ts';
export {
  BYTE_FIELDS,
  type Base64urlCodec,
  PORTABLE_BASE64URL,
  encodeRelayJson,
  decodeRelayJson,
  toJsonValue,
} from './json.ts';
export { type RecordPath, formatPath, parsePath } from './paths.ts';
export { type RelayError, type RelayErrorCode, describeRelayError } from './errors.ts';
export {
  type RelayStore,
  type NewRecord,
  type WriteOutcome,
  type ReadOutcome,
  type DeleteOutcome,
  type Page,
  type UsageEntry,
  type Quota,
  type Account,
  type ExpireCounts,
  type StoredKey,
  listPage,
  SAME_MS_ITEMS_MAX,
  RelayStoreBusy,
} from './store.ts';
export { RelayServer, RelayConnection, type RelayServerOptions, type Handled } from './server.ts';
export { type Inventory, type UsageReport, type AnswerValue, answerReader } from './answers.ts';
export {
  RelayClientSession,
  type RelayClientOptions,
  type ClientEvent,
  type ClientFailure,
} from './client.ts';
export { type RelayAddress, formatRelayAddress, parseRelayAddress } from './address.ts';
export {
  ACK_TAG,
  type Ack,
  type AckError,
  type AuditRow,
  sealAck,
  openAck,
  auditDeliveries,
} from './audit.ts';
