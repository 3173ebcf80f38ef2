import { type MessagingId, type Result, err, ok, utf8 } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import type { Identity } from '@postern/identity';
import { type RecordLimits, type SignedRecord, checkRecord, recordKey, signRecord } from '@postern/kademlia';
import { STATEMENT_BYTES_MAX } from '@postern/replicant';
import { type WireError, decodeWith, encodeCanonical, expectArrayOf, expectBytes } from '@postern/wire';

/**
 * The second record a user publishes in the DHT, beside its identity record: its replicants'
 * tickets (each signed by the replicant: "I hold envelopes for this user, reach me here"), so a
 * sender that is not yet told them by presence can hand envelopes over. Owned by the user's
 * messaging id under salt TICKETS_SALT; the value is canonical CBOR: an array of ticket statements.
 */
export const TICKETS_SALT = utf8('postern/replicant-tickets');
const TICKETS_MAX = 8;

export function ticketsRecordKey(crypto: CryptoProvider, messagingId: Uint8Array): Uint8Array {
  return recordKey(crypto, messagingId, TICKETS_SALT);
}

export function signTicketsRecord(
  crypto: CryptoProvider,
  identity: Identity,
  tickets: readonly Uint8Array[],
  fields: { seq: number; expiresAtMs: number },
  limits: RecordLimits,
): SignedRecord {
  return signRecord(
    crypto,
    identity.signingKey.expose(),
    { salt: TICKETS_SALT, value: encodeCanonical([...tickets]), ...fields },
    limits,
  );
}

export type TicketsRecordError = { code: 'TICKETS_RECORD_INVALID'; reason: string } | WireError;

/** The tickets in a record found for `messagingId`, once the record passes every record check. */
export function openTicketsRecord(
  crypto: CryptoProvider,
  record: SignedRecord,
  context: { messagingId: MessagingId; nowMs: number; limits: RecordLimits },
): Result<Uint8Array[], TicketsRecordError> {
  const key = ticketsRecordKey(crypto, context.messagingId);
  const checked = checkRecord(crypto, record, { key, nowMs: context.nowMs, limits: context.limits });
  if (!checked.ok) return err({ code: 'TICKETS_RECORD_INVALID', reason: checked.error.code });
  const tickets = decodeWith(
    record.value,
    expectArrayOf(expectBytes({ min: 1, max: STATEMENT_BYTES_MAX }), { min: 0, max: TICKETS_MAX }),
  );
  return tickets.ok ? ok(tickets.value) : err(tickets.error);
}
