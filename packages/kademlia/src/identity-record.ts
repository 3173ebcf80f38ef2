import { type MessagingId, type Result, bytesEqual, err, ok, utf8 } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type Identity,
  type IdentityDocument,
  type IdentityError,
  decodeIdentityRecord,
  encodeIdentityRecord,
} from '@postern/identity';
import {
  type RecordError,
  type RecordLimits,
  type SignedRecord,
  checkRecord,
  recordKey,
  signRecord,
} from './records.ts';

/**
 * A user's identity record: the signed identity document (docs/protocols/identity.md) in a DHT
 * record owned by the user's messaging id, under salt IDENTITY_SALT, with the document's seq. Its
 * fields are the document's: keys, label, relays, replicants — never a node id or an address of
 * the user's (the document format has no such field and refuses unknown ones).
 */
export const IDENTITY_SALT = utf8('postern/identity');

export type IdentityRecordError =
  | RecordError
  | { code: 'IDENTITY_RECORD_BAD_DOCUMENT'; error: IdentityError }
  | { code: 'IDENTITY_RECORD_MISMATCH'; reason: string };

/** Where the identity record of `messagingId` is stored. */
export function identityRecordKey(crypto: CryptoProvider, messagingId: Uint8Array): Uint8Array {
  return recordKey(crypto, messagingId, IDENTITY_SALT);
}

/** The DHT record for an identity's current document, valid until `expiresAtMs` (wall clock). */
export function signIdentityRecord(
  crypto: CryptoProvider,
  identity: Identity,
  expiresAtMs: number,
  limits: RecordLimits,
): SignedRecord {
  const { document } = identity;
  return signRecord(
    crypto,
    identity.signingKey.expose(),
    { salt: IDENTITY_SALT, seq: document.seq, value: encodeIdentityRecord(document), expiresAtMs },
    limits,
  );
}

/**
 * The identity document in a record found for `messagingId`: the record passes every record check
 * under that user's identity key, and its value is a valid identity document of that same user,
 * at the record's seq (so a holder cannot pair an old document with a newer record, or another's).
 */
export function openIdentityRecord(
  crypto: CryptoProvider,
  record: SignedRecord,
  context: { messagingId: MessagingId; nowMs: number; limits: RecordLimits },
): Result<IdentityDocument, IdentityRecordError> {
  const key = identityRecordKey(crypto, context.messagingId);
  const checked = checkRecord(crypto, record, { key, nowMs: context.nowMs, limits: context.limits });
  if (!checked.ok) return checked;
  const document = decodeIdentityRecord(crypto, record.value);
  if (!document.ok) return err({ code: 'IDENTITY_RECORD_BAD_DOCUMENT', error: document.error });
  if (!bytesEqual(document.value.pubkey, context.messagingId)) {
    return err({ code: 'IDENTITY_RECORD_MISMATCH', reason: 'the document is another user’s' });
  }
  if (document.value.seq !== record.seq) {
    return err({ code: 'IDENTITY_RECORD_MISMATCH', reason: 'the document’s seq is not the record’s' });
  }
  return ok(document.value);
}
