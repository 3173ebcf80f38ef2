import { type Result, ok } from '@postern/core';
import { EnvelopeLimits } from '@postern/envelope';
import { IdentityLimits } from '@postern/identity';
import {
  type ReadType,
  type Reader,
  type WireError,
  badField,
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBool,
  expectBytes,
  expectNullable,
  expectStruct,
  expectText,
  expectUint,
} from '@postern/wire';
import { ADDRESSES_MAX, ADDRESS_BYTES_MAX, STATEMENT_BYTES_MAX } from './statements.ts';

/**
 * What the machine persists: one table per kind of record, each row a key and a canonical CBOR
 * value. The machine emits a `persist` event for every change, before the message that relies on
 * it (a store-ack, a receipt) is transmitted; the owner writes it durably (SQLite in the runtime, the
 * node's store in the simulator) and hands the rows back to `restore` after a restart.
 */
export const TABLES = [
  'self',
  'contact',
  'nomination',
  'duty',
  'held',
  'outbox',
  'inbox',
  'seen',
  'receipt',
] as const;
export type Table = (typeof TABLES)[number];

export interface Row {
  readonly table: Table;
  readonly key: string;
  readonly value: Uint8Array;
}

const id = expectBytes(32);
const time = expectUint();
const statement = expectBytes({ min: 1, max: STATEMENT_BYTES_MAX });
const reach = expectNullable(
  expectStruct({
    node: id,
    addrs: expectArrayOf(expectText(ADDRESS_BYTES_MAX), { min: 0, max: ADDRESSES_MAX }),
  }),
);
const terms = expectStruct({ envelopes: expectUint(0xffff_ffff), bytes: time, ttlMs: time });

const readers = {
  contact: expectStruct({
    doc: expectBytes({ min: 1, max: IdentityLimits.documentBytesMax }),
    name: expectText(256),
    reach,
    reachAt: time,
    tickets: expectArrayOf(statement, { min: 0, max: IdentityLimits.replicantsMax }),
  }),
  nomination: expectStruct({
    state: oneOf('nominated', 'accepted', 'refused', 'revoked'),
    terms,
    at: time,
    out: expectNullable(statement),
    ticket: expectNullable(statement),
  }),
  duty: expectStruct({
    state: oneOf('requested', 'serving', 'refused', 'ended'),
    terms,
    at: time,
    out: expectNullable(statement),
    ticket: expectNullable(statement),
  }),
  outbox: expectStruct({
    env: expectBytes({ min: 1, max: EnvelopeLimits.envelopeBytesMax }),
    state: oneOf('queued', 'stored', 'delivered', 'expired'),
    acks: expectArrayOf(statement, { min: 0, max: IdentityLimits.replicantsMax }),
    receipt: expectNullable(statement),
    at: time,
    /** Receipts this node sends for others' messages: done once a replicant stores them, never shown. */
    system: expectBool,
  }),
  inbox: expectStruct({
    sender: id,
    id: expectBytes(16),
    content: expectBytes({ min: 0, max: EnvelopeLimits.bodyBytesMax }),
    sentAt: time,
    receivedAt: time,
    via: oneOf('direct', 'replicant', 'relay'),
    /** The sender was not a contact when it arrived (counts against `strangerMessagesMax`). */
    stranger: expectBool,
  }),
  seen: expectStruct({ until: time }),
  receipt: expectStruct({ r: statement, sender: id, until: time }),
} as const;

export type ContactRow = ReadType<typeof readers.contact>;
export type NominationRow = ReadType<typeof readers.nomination>;
export type DutyRow = ReadType<typeof readers.duty>;
export type OutboxRow = ReadType<typeof readers.outbox>;
export type InboxRow = ReadType<typeof readers.inbox>;
export type SeenRow = ReadType<typeof readers.seen>;
export type ReceiptRow = ReadType<typeof readers.receipt>;
export type OutboxState = OutboxRow['state'];

type Decodable = keyof typeof readers;

export function encodeRow(value: object): Uint8Array {
  return encodeCanonical({ ...value });
}

/** Total: a row written by another version, or damaged on disk, gives an error, not a crash. */
export function decodeRow<T extends Decodable>(
  table: T,
  bytes: Uint8Array,
): Result<ReadType<(typeof readers)[T]>, WireError> {
  return decodeWith(bytes, readers[table] as Reader<ReadType<(typeof readers)[T]>>, {
    maxBytes: EnvelopeLimits.envelopeBytesMax + 4096,
    maxDepth: 4,
  });
}

function oneOf<const T extends string>(...values: T[]): Reader<T> {
  return (value, field) =>
    typeof value === 'string' && (values as string[]).includes(value)
      ? ok(value as T)
      : badField(field, `expected one of ${values.join(', ')}`);
}
