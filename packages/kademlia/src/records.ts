import { type Result, UsageError, bytesEqual, concatBytes, err, ok, utf8 } from '@postern/core';
import { type CryptoProvider, KeyBytes } from '@postern/crypto';
import {
  type Reader,
  type WireError,
  decodeWith,
  encodeCanonical,
  expectBytes,
  expectStruct,
  expectUint,
} from '@postern/wire';
import { ID_BYTES } from './distance.ts';
import type { KademliaLimits } from './limits.ts';

/**
 * A signed mutable record, BEP 44 style: stored under key = BLAKE2b-256(domain ‖ owner ‖ salt), so
 * only the owner's key can write there; `seq` orders versions (a storing node keeps the highest);
 * `expiresAtMs` (wall clock) bounds how long anyone keeps it. Spec: docs/protocols/kademlia.md.
 */
export interface SignedRecord {
  /** The owner's Ed25519 public key (for an identity record, the messaging id). */
  readonly owner: Uint8Array;
  readonly salt: Uint8Array;
  readonly seq: number;
  readonly value: Uint8Array;
  readonly expiresAtMs: number;
  readonly signature: Uint8Array;
}

export type RecordFields = Pick<SignedRecord, 'salt' | 'seq' | 'value' | 'expiresAtMs'>;

export type RecordLimits = Pick<
  KademliaLimits,
  'recordValueBytesMax' | 'recordSaltBytesMax' | 'recordTtlMaxMs'
>;

export type RecordError =
  | { code: 'RECORD_MALFORMED'; error: WireError }
  | { code: 'RECORD_WRONG_KEY' }
  | { code: 'RECORD_EXPIRED'; expiredAtMs: number }
  | { code: 'RECORD_TTL_TOO_LONG'; expiresAtMs: number; latestMs: number }
  | { code: 'RECORD_BAD_SIGNATURE' };

const KEY_DOMAIN = utf8('postern/dht-key/v1\n');
const SIGN_DOMAIN = utf8('postern/dht-record/v1\n');
/** Size of an encoded record above its value and salt: keys, signature, integers, CBOR heads. */
const RECORD_OVERHEAD_BYTES = 256;

/** Where a record of `owner` with `salt` is stored. */
export function recordKey(crypto: CryptoProvider, owner: Uint8Array, salt: Uint8Array): Uint8Array {
  return crypto.blake2b(concatBytes(KEY_DOMAIN, owner, salt), ID_BYTES);
}

/**
 * Signs a record with the owner's 64-byte Ed25519 secret key (seed ‖ public key). Throws UsageError
 * for fields no node would accept: a value or salt above the limits, a seq that is not a safe
 * non-negative integer.
 */
export function signRecord(
  crypto: CryptoProvider,
  ownerSecretKey: Uint8Array,
  fields: RecordFields,
  limits: RecordLimits,
): SignedRecord {
  if (fields.value.length > limits.recordValueBytesMax || fields.salt.length > limits.recordSaltBytesMax) {
    throw new UsageError(
      'KAD_RECORD_TOO_LARGE',
      `a record value is at most ${limits.recordValueBytesMax} bytes and a salt ${limits.recordSaltBytesMax}`,
    );
  }
  for (const [name, n] of [
    ['seq', fields.seq],
    ['expiresAtMs', fields.expiresAtMs],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new UsageError('KAD_RECORD_BAD_FIELD', `${name} must be a safe integer ≥ 0, got ${n}`);
  }
  const owner = ownerSecretKey.slice(KeyBytes.ed25519Seed);
  const unsigned = { owner, ...fields };
  return { ...unsigned, signature: crypto.ed25519Sign(ownerSecretKey, signingBytes(unsigned)) };
}

export function encodeRecord(record: SignedRecord): Uint8Array {
  return encodeCanonical({ ...record });
}

/** Reads a record's fields, of the right shapes and sizes, from a decoded value (also inside messages). */
export function readRecord(limits: RecordLimits): Reader<SignedRecord> {
  return expectStruct({
    owner: expectBytes(KeyBytes.ed25519Public),
    salt: expectBytes({ min: 0, max: limits.recordSaltBytesMax }),
    seq: expectUint(),
    value: expectBytes({ min: 0, max: limits.recordValueBytesMax }),
    expiresAtMs: expectUint(),
    signature: expectBytes(KeyBytes.ed25519Signature),
  });
}

/** The largest encoding of a record within the limits. */
export function recordBytesMax(limits: RecordLimits): number {
  return limits.recordValueBytesMax + limits.recordSaltBytesMax + RECORD_OVERHEAD_BYTES;
}

/** Total: any bytes give a record with fields of the right shapes and sizes, or RECORD_MALFORMED. */
export function decodeRecord(bytes: Uint8Array, limits: RecordLimits): Result<SignedRecord, RecordError> {
  const decoded = decodeWith(bytes, readRecord(limits), { maxBytes: recordBytesMax(limits) });
  return decoded.ok ? decoded : err({ code: 'RECORD_MALFORMED', error: decoded.error });
}

/**
 * What storing nodes and readers check before believing a record: it is stored under the key it
 * claims (when `key` is given), it has not expired at `nowMs` (wall clock), it does not claim to
 * live longer than the limit allows from now, and its owner signed it. The signature is checked last:
 * it is the expensive part.
 */
export function checkRecord(
  crypto: CryptoProvider,
  record: SignedRecord,
  context: { key?: Uint8Array; nowMs: number; limits: RecordLimits },
): Result<SignedRecord, RecordError> {
  const { key, nowMs, limits } = context;
  if (key !== undefined && !bytesEqual(recordKey(crypto, record.owner, record.salt), key)) {
    return err({ code: 'RECORD_WRONG_KEY' });
  }
  if (record.expiresAtMs <= nowMs) return err({ code: 'RECORD_EXPIRED', expiredAtMs: record.expiresAtMs });
  const latestMs = nowMs + limits.recordTtlMaxMs;
  if (record.expiresAtMs > latestMs) {
    return err({ code: 'RECORD_TTL_TOO_LONG', expiresAtMs: record.expiresAtMs, latestMs });
  }
  const { signature, ...unsigned } = record;
  if (!crypto.ed25519Verify(record.owner, signingBytes(unsigned), signature)) {
    return err({ code: 'RECORD_BAD_SIGNATURE' });
  }
  return ok(record);
}

/**
 * How a checked `incoming` record compares with the `stored` one under the same key: a higher seq
 * replaces it; the same seq and value is the same version (a republish: keep the later expiry); a
 * lower seq is stale; the same seq with another value is a conflict (the owner signed two versions
 * with one seq: keep the first, refuse the second).
 */
export function compareVersions(
  incoming: SignedRecord,
  stored: SignedRecord,
): 'newer' | 'same' | 'stale' | 'conflict' {
  if (incoming.seq > stored.seq) return 'newer';
  if (incoming.seq < stored.seq) return 'stale';
  return bytesEqual(incoming.value, stored.value) ? 'same' : 'conflict';
}

function signingBytes(unsigned: Omit<SignedRecord, 'signature'>): Uint8Array {
  return concatBytes(SIGN_DOMAIN, encodeCanonical({ ...unsigned }));
}
