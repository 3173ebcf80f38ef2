export { DEFAULT_REPLICANT_LIMITS, resolveReplicantLimits, type ReplicantLimits } from './limits.ts';
export {
  signStatement,
  openStatement,
  envelopeDigest,
  describeStatementError,
  ROLES,
  STATEMENT_BYTES_MAX,
  type Reach,
  type Presence,
  type Ticket,
  type Role,
  type RoleStatement,
  type Terms,
  type StoreAck,
  type Receipt,
  type Signed,
  type StatementKind,
  type StatementError,
  ADDRESSES_MAX,
  ADDRESS_BYTES_MAX,
} from './statements.ts';
export {
  REPLICANT_PROTOCOL,
  MESSAGE_BYTES_MAX,
  encodeReplicantMessage,
  decodeReplicantMessage,
  type ReplicantMessage,
} from './messages.ts';
export { encodeBody, decodeBody, type MessageBody } from './body.ts';
export {
  TABLES,
  decodeRow,
  encodeRow,
  type Table,
  type Row,
  type OutboxState,
  type InboxRow,
} from './state.ts';
export type { ReplicantEvent } from './events.ts';
export type { Contact } from './peers.ts';
export type { OutboxEntry } from './outbox.ts';
export { Timers } from './timers.ts';
export { ReplicantMachine, DEFAULT_TERMS, type ReplicantOptions, type SendOptions } from './machine.ts';
