import {
  type MessagingId,
  type Millis,
  type Result,
  UsageError,
  bytesEqual,
  concatBytes,
  err,
  ok,
  toHex,
  utf8,
} from '@postern/core';
import { type CryptoProvider, KeyBytes } from '@postern/crypto';
import type { Identity, RecipientKeys } from '@postern/identity';
import { type WireError, type WireValue, decodeCanonical, encodeCanonical } from '@postern/wire';
import { EnvelopeLimits } from './limits.ts';
import { pad, unpad } from './padding.ts';

/**
 * Sealed envelopes: the body is encrypted to the recipient's X25519 key and the whole envelope is
 * signed by the sender's Ed25519 key, so a carrier (replicant, relay, proxy) can check who sent it
 * and to whom, but can neither read it nor change a byte undetected. Byte layout, key schedule and
 * threat model: docs/protocols/envelope.md.
 *
 * Wire form: canonical CBOR array
 *   [version, flags, id, timestampMs, ttlMs, sender, recipient, recipientKey, ephemeralKey, ciphertext, signature]
 * The signature covers SIGN_DOMAIN ‖ every byte of the envelope before the signature item, whose
 * canonical encoding is always the last 66 bytes (0x58 0x40 ‖ 64 bytes); the AEAD authenticates
 * every byte before the ciphertext's content.
 */
export const ENVELOPE_VERSION = 1;
const FLAG_REPLICATED = 0x01;
const ID_BYTES = 16;
const FIELD_COUNT = 11;
const SIGNATURE_ITEM_BYTES = 2 + KeyBytes.ed25519Signature;
const SIGN_DOMAIN = utf8('postern/envelope/v1/sign\n');
const KEY_DOMAIN = utf8('postern/envelope/v1/key\n');
const ZERO_NONCE = new Uint8Array(KeyBytes.chachaNonce); // each envelope has its own key: a fixed nonce is safe

export interface EnvelopeHeader {
  readonly version: number;
  /** Random, chosen by the sender; recipients dedupe by it. */
  readonly id: Uint8Array;
  /** The sender's wall clock when sealing. */
  readonly timestampMs: number;
  readonly ttlMs: number;
  /** May a carrier hold it for the recipient when direct delivery fails? */
  readonly isReplicated: boolean;
  readonly sender: MessagingId;
  readonly recipient: MessagingId;
  /** The recipient's X25519 key this envelope is sealed to. */
  readonly recipientKey: Uint8Array;
}

export interface OpenedEnvelope extends EnvelopeHeader {
  readonly body: Uint8Array;
}

export type EnvelopeError =
  | { code: 'ENVELOPE_OVERSIZE'; size: number; max: number }
  | { code: 'ENVELOPE_TRUNCATED' }
  | { code: 'ENVELOPE_NON_CANONICAL'; reason: string }
  | { code: 'ENVELOPE_MALFORMED'; reason: string }
  | { code: 'ENVELOPE_UNKNOWN_VERSION'; version: number }
  | { code: 'ENVELOPE_BAD_SIGNATURE' }
  | { code: 'ENVELOPE_NOT_FOR_RECIPIENT'; recipient: MessagingId }
  | { code: 'ENVELOPE_EXPIRED'; expiredAtMs: number }
  | { code: 'ENVELOPE_FROM_FUTURE'; timestampMs: number; acceptedUntilMs: number }
  | { code: 'ENVELOPE_DECRYPT_FAILED' }
  | { code: 'ENVELOPE_BAD_PADDING'; reason: string };

export interface SealOptions {
  readonly ttlMs: number;
  readonly isReplicated: boolean;
  /** Wall-clock time, becomes the envelope's timestamp. */
  readonly now: Millis;
}

/** The recipient's side of an identity: what `open` needs. */
export type EnvelopeRecipient = Pick<Identity, 'messagingId' | 'encryptionKey' | 'encryptionSecret'>;

/** An envelope as parsed, before any check of its signature or times. */
export interface ParsedEnvelope extends EnvelopeHeader {
  readonly ephemeralKey: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly signature: Uint8Array;
}

export function seal(
  crypto: CryptoProvider,
  sender: Pick<Identity, 'messagingId' | 'signingKey'>,
  recipient: RecipientKeys,
  body: Uint8Array,
  options: SealOptions,
): Uint8Array {
  checkSealInputs(sender, recipient, body, options);
  const random = crypto.randomBytes(ID_BYTES + KeyBytes.x25519);
  const id = random.subarray(0, ID_BYTES);
  const ephemeralSecret = random.subarray(ID_BYTES);
  const ephemeralKey = crypto.x25519PublicKey(ephemeralSecret);
  const shared = crypto.x25519(ephemeralSecret, recipient.encryptionKey);
  if (!shared.ok) {
    throw new UsageError('ENVELOPE_BAD_RECIPIENT_KEY', 'the recipient encryption key is a low-order point');
  }
  const header = headerItems({
    version: ENVELOPE_VERSION,
    id,
    timestampMs: options.now,
    ttlMs: options.ttlMs,
    isReplicated: options.isReplicated,
    sender: sender.messagingId,
    recipient: recipient.messagingId,
    recipientKey: recipient.encryptionKey,
  });
  // Encode once with zeroed ciphertext and signature of their final lengths, then fill both in place.
  const padded = pad(body);
  const ciphertextLength = padded.length + KeyBytes.aeadTag;
  const bytes = encodeCanonical([
    ...header,
    ephemeralKey,
    new Uint8Array(ciphertextLength),
    new Uint8Array(KeyBytes.ed25519Signature),
  ]);
  const key = envelopeKey(crypto, shared.value, id, ephemeralKey, recipient.encryptionKey);
  const ciphertext = crypto.chacha20poly1305Encrypt(
    key,
    ZERO_NONCE,
    padded,
    associatedData(bytes, ciphertextLength),
  );
  bytes.set(ciphertext, bytes.length - SIGNATURE_ITEM_BYTES - ciphertextLength);
  const signature = crypto.ed25519Sign(sender.signingKey.expose(), signedPart(bytes));
  bytes.set(signature, bytes.length - KeyBytes.ed25519Signature);
  return bytes;
}

/**
 * What a carrier checks before holding or forwarding an envelope: well-formed, signed by its sender,
 * not expired. It learns sender, recipient, size and times; nothing of the body.
 */
export function verifyEnvelope(
  crypto: CryptoProvider,
  bytes: Uint8Array,
  now: Millis,
): Result<EnvelopeHeader, EnvelopeError> {
  const verified = verifyParsed(crypto, bytes, now);
  return verified.ok ? ok(headerOf(verified.value)) : verified;
}

/** Verifies, then decrypts for the recipient. Never throws, whatever the bytes. */
export function open(
  crypto: CryptoProvider,
  recipient: EnvelopeRecipient,
  bytes: Uint8Array,
  now: Millis,
): Result<OpenedEnvelope, EnvelopeError> {
  const verified = verifyParsed(crypto, bytes, now);
  if (!verified.ok) return verified;
  const envelope = verified.value;
  if (
    !bytesEqual(envelope.recipient, recipient.messagingId) ||
    !bytesEqual(envelope.recipientKey, recipient.encryptionKey)
  ) {
    return err({ code: 'ENVELOPE_NOT_FOR_RECIPIENT', recipient: envelope.recipient });
  }
  const shared = crypto.x25519(recipient.encryptionSecret.expose(), envelope.ephemeralKey);
  if (!shared.ok) return err({ code: 'ENVELOPE_DECRYPT_FAILED' });
  const key = envelopeKey(crypto, shared.value, envelope.id, envelope.ephemeralKey, envelope.recipientKey);
  const ad = associatedData(bytes, envelope.ciphertext.length);
  const padded = crypto.chacha20poly1305Decrypt(key, ZERO_NONCE, envelope.ciphertext, ad);
  if (!padded.ok) return err({ code: 'ENVELOPE_DECRYPT_FAILED' });
  const body = unpad(padded.value);
  if (!body.ok) return err({ code: 'ENVELOPE_BAD_PADDING', reason: body.error });
  return ok({ ...headerOf(envelope), body: body.value });
}

function verifyParsed(
  crypto: CryptoProvider,
  bytes: Uint8Array,
  now: Millis,
): Result<ParsedEnvelope, EnvelopeError> {
  const parsed = parseEnvelope(bytes);
  if (!parsed.ok) return parsed;
  const envelope = parsed.value;
  if (!crypto.ed25519Verify(envelope.sender, signedPart(bytes), envelope.signature)) {
    return err({ code: 'ENVELOPE_BAD_SIGNATURE' });
  }
  const expiredAtMs = envelope.timestampMs + envelope.ttlMs;
  if (now >= expiredAtMs) return err({ code: 'ENVELOPE_EXPIRED', expiredAtMs });
  const acceptedUntilMs = now + EnvelopeLimits.clockSkewMsMax;
  if (envelope.timestampMs > acceptedUntilMs) {
    return err({ code: 'ENVELOPE_FROM_FUTURE', timestampMs: envelope.timestampMs, acceptedUntilMs });
  }
  return parsed;
}

/** Structure only: no signature check. Total: every input gives a value or a typed error. */
export function parseEnvelope(bytes: Uint8Array): Result<ParsedEnvelope, EnvelopeError> {
  if (bytes.length > EnvelopeLimits.envelopeBytesMax) {
    return err({ code: 'ENVELOPE_OVERSIZE', size: bytes.length, max: EnvelopeLimits.envelopeBytesMax });
  }
  const peeked = peekVersion(bytes);
  if (peeked !== undefined && peeked !== ENVELOPE_VERSION) {
    return err({ code: 'ENVELOPE_UNKNOWN_VERSION', version: peeked });
  }
  const decoded = decodeCanonical(bytes, {
    maxBytes: EnvelopeLimits.envelopeBytesMax,
    maxDepth: 1,
    maxItems: 16,
  });
  if (!decoded.ok) return err(fromWireError(decoded.error));
  const items = decoded.value;
  if (!Array.isArray(items)) return malformed('an envelope is a CBOR array');
  const fields = items as readonly WireValue[];
  const version = fields[0];
  if (typeof version !== 'number') return malformed('the version is not a number');
  if (version !== ENVELOPE_VERSION) return err({ code: 'ENVELOPE_UNKNOWN_VERSION', version });
  if (fields.length !== FIELD_COUNT) return malformed(`a version 1 envelope has ${FIELD_COUNT} fields`);
  return readFields(fields);
}

function readFields(fields: readonly WireValue[]): Result<ParsedEnvelope, EnvelopeError> {
  const [
    ,
    flags,
    id,
    timestampMs,
    ttlMs,
    sender,
    recipient,
    recipientKey,
    ephemeralKey,
    ciphertext,
    signature,
  ] = fields;
  // Compared as a whole number, not with `&`: bitwise operators would drop bits above 31.
  if (flags !== 0 && flags !== FLAG_REPLICATED) return malformed('unknown flags are set');
  if (!isBytes(id, ID_BYTES)) return malformed('the id is not 16 bytes');
  if (typeof timestampMs !== 'number' || timestampMs < 0) return malformed('the timestamp is not a time');
  if (typeof ttlMs !== 'number' || ttlMs < 1 || ttlMs > EnvelopeLimits.ttlMsMax) {
    return malformed(`the TTL is not between 1 ms and ${EnvelopeLimits.ttlMsMax} ms`);
  }
  if (!isBytes(sender, KeyBytes.ed25519Public)) return malformed('the sender is not a 32-byte id');
  if (!isBytes(recipient, KeyBytes.ed25519Public)) return malformed('the recipient is not a 32-byte id');
  if (!isBytes(recipientKey, KeyBytes.x25519)) return malformed('the recipient key is not 32 bytes');
  if (!isBytes(ephemeralKey, KeyBytes.x25519)) return malformed('the ephemeral key is not 32 bytes');
  if (
    !(ciphertext instanceof Uint8Array) ||
    ciphertext.length < EnvelopeLimits.paddedBytesMin + KeyBytes.aeadTag
  ) {
    return malformed('the ciphertext is shorter than the smallest padded body');
  }
  if (!isBytes(signature, KeyBytes.ed25519Signature)) return malformed('the signature is not 64 bytes');
  return ok({
    version: ENVELOPE_VERSION,
    id,
    timestampMs,
    ttlMs,
    isReplicated: (flags & FLAG_REPLICATED) !== 0,
    sender: sender as MessagingId,
    recipient: recipient as MessagingId,
    recipientKey,
    ephemeralKey,
    ciphertext,
    signature,
  });
}

/**
 * The version of any envelope, read before the version 1 structure limits apply, so that a later
 * version with more fields is reported as unknown rather than malformed: an array head followed by a
 * small unsigned integer.
 */
function peekVersion(bytes: Uint8Array): number | undefined {
  const [head, first] = bytes;
  const isArray = head !== undefined && head >= 0x80 && head <= 0x9b;
  return isArray && first !== undefined && first <= 0x17 ? first : undefined;
}

function headerItems(h: EnvelopeHeader): WireValue[] {
  const flags = h.isReplicated ? FLAG_REPLICATED : 0;
  return [h.version, flags, h.id, h.timestampMs, h.ttlMs, h.sender, h.recipient, h.recipientKey];
}

function headerOf(e: ParsedEnvelope): EnvelopeHeader {
  const { version, id, timestampMs, ttlMs, isReplicated, sender, recipient, recipientKey } = e;
  return { version, id, timestampMs, ttlMs, isReplicated, sender, recipient, recipientKey };
}

/**
 * What the AEAD authenticates: every byte of the envelope before the ciphertext's content (the array
 * head, fields 0–8 with the sender, and the ciphertext's own length head).
 */
function associatedData(bytes: Uint8Array, ciphertextLength: number): Uint8Array {
  return bytes.subarray(0, bytes.length - SIGNATURE_ITEM_BYTES - ciphertextLength);
}

function signedPart(bytes: Uint8Array): Uint8Array {
  return concatBytes(SIGN_DOMAIN, bytes.subarray(0, bytes.length - SIGNATURE_ITEM_BYTES));
}

/** One key per envelope: BLAKE2b-256 keyed by the X25519 secret over the ids it must be bound to. */
function envelopeKey(
  crypto: CryptoProvider,
  shared: Uint8Array,
  id: Uint8Array,
  ephemeralKey: Uint8Array,
  recipientKey: Uint8Array,
): Uint8Array {
  return crypto.blake2b(concatBytes(KEY_DOMAIN, id, ephemeralKey, recipientKey), KeyBytes.aeadKey, shared);
}

function checkSealInputs(
  sender: Pick<Identity, 'messagingId' | 'signingKey'>,
  recipient: RecipientKeys,
  body: Uint8Array,
  options: SealOptions,
): void {
  if (!bytesEqual(sender.signingKey.expose().subarray(KeyBytes.ed25519Seed), sender.messagingId)) {
    throw new UsageError('ENVELOPE_BAD_SENDER', "the sender's signing key is not its messaging id's");
  }
  if (body.length > EnvelopeLimits.bodyBytesMax) {
    throw new UsageError(
      'ENVELOPE_BODY_TOO_LARGE',
      `a body is at most ${EnvelopeLimits.bodyBytesMax} bytes, got ${body.length}`,
    );
  }
  if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1 || options.ttlMs > EnvelopeLimits.ttlMsMax) {
    throw new UsageError(
      'ENVELOPE_BAD_TTL',
      `ttlMs must be from 1 to ${EnvelopeLimits.ttlMsMax}, got ${options.ttlMs}`,
    );
  }
  if (!Number.isSafeInteger(options.now) || options.now < 0) {
    throw new UsageError('ENVELOPE_BAD_TIME', `now must be a wall-clock time in ms, got ${options.now}`);
  }
  if (
    recipient.messagingId.length !== KeyBytes.ed25519Public ||
    recipient.encryptionKey.length !== KeyBytes.x25519
  ) {
    throw new UsageError('ENVELOPE_BAD_RECIPIENT_KEY', 'recipient ids and keys are 32 bytes');
  }
}

function isBytes(value: WireValue | undefined, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function malformed(reason: string): Result<never, EnvelopeError> {
  return err({ code: 'ENVELOPE_MALFORMED', reason });
}

function fromWireError(error: WireError): EnvelopeError {
  switch (error.code) {
    case 'WIRE_TOO_LARGE':
      return { code: 'ENVELOPE_OVERSIZE', size: error.size, max: error.max };
    case 'WIRE_TRUNCATED':
      return { code: 'ENVELOPE_TRUNCATED' };
    case 'WIRE_NON_CANONICAL':
      return { code: 'ENVELOPE_NON_CANONICAL', reason: error.reason };
    case 'WIRE_TRAILING_BYTES':
      return { code: 'ENVELOPE_NON_CANONICAL', reason: 'bytes after the envelope' };
    case 'WIRE_MALFORMED':
      return { code: 'ENVELOPE_MALFORMED', reason: error.reason };
    default:
      return { code: 'ENVELOPE_MALFORMED', reason: error.code };
  }
}

/**
 * What recipients and carriers deduplicate by: sender and id together. The id alone is chosen by
 * the sender and visible to every carrier, so a carrier could seal its own envelope with the id of
 * someone else's and have the real one dropped as a duplicate; it cannot forge the sender.
 */
export function envelopeDedupeKey(header: Pick<EnvelopeHeader, 'sender' | 'id'>): string {
  return `${toHex(header.sender)}:${toHex(header.id)}`;
}

/** One sentence for a person or a log line. */
export function describeEnvelopeError(error: EnvelopeError): string {
  switch (error.code) {
    case 'ENVELOPE_OVERSIZE':
      return `the envelope is ${error.size} bytes, more than the ${error.max} allowed`;
    case 'ENVELOPE_TRUNCATED':
      return 'the envelope is cut short';
    case 'ENVELOPE_NON_CANONICAL':
      return `the envelope is not in canonical form (${error.reason})`;
    case 'ENVELOPE_MALFORMED':
      return `the envelope is malformed: ${error.reason}`;
    case 'ENVELOPE_UNKNOWN_VERSION':
      return `the envelope has version ${error.version}, which this Postern does not know`;
    case 'ENVELOPE_BAD_SIGNATURE':
      return 'the envelope was altered or forged: its signature does not match its sender';
    case 'ENVELOPE_NOT_FOR_RECIPIENT':
      return 'the envelope is sealed to someone else';
    case 'ENVELOPE_EXPIRED':
      return `the envelope expired at ${formatUtc(error.expiredAtMs)}`;
    case 'ENVELOPE_FROM_FUTURE':
      return "the envelope's timestamp is too far in the future: the sender's clock is wrong";
    case 'ENVELOPE_DECRYPT_FAILED':
      return 'the envelope does not decrypt with this key: it was re-signed by someone other than its author, or sealed wrongly';
    case 'ENVELOPE_BAD_PADDING':
      return `the envelope decrypted but its padding is wrong (${error.reason})`;
  }
}

const UTC = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' });

/** A time for a sentence; falls back to the number where no calendar date exists (beyond ±8.64e15 ms). */
function formatUtc(ms: number): string {
  try {
    return `${UTC.format(ms)} UTC`;
  } catch {
    return `${ms} ms after 1970`;
  }
}
