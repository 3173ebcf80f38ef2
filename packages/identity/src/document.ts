import {
  type MessagingId,
  type Result,
  IdPrefix,
  bytesEqual,
  concatBytes,
  decodeIdText,
  describeIdTextError,
  encodeIdText,
  err,
  fromBase64url,
  ok,
  toBase64url,
  utf8,
} from '@postern/core';
import { type CryptoProvider, KeyBytes } from '@postern/crypto';
import { type WireError, type WireMap, decodeCanonical, encodeCanonical } from '@postern/wire';
import { findDuplicateKey } from './json-keys.ts';
import { IdentityLimits } from './limits.ts';

/**
 * The identity document: who a user is, as a person pastes, scans or publishes it. Seed 003's
 * `{ type, label, pubkey, relays }` plus Postern's fields. The signature covers the deterministic
 * CBOR encoding of every other field, so the JSON may be re-indented or reordered but any change
 * of a value, and any added or removed field, is detected. Spec: docs/protocols/identity.md.
 */
export interface IdentityDocument {
  readonly type: 'Identity';
  readonly version: 1;
  readonly label: string;
  /** The messaging id: the user's Ed25519 public key. */
  readonly pubkey: MessagingId;
  /** The X25519 key envelopes are sealed to; signed here by `pubkey`, replaced by a newer seq. */
  readonly encryptionKey: Uint8Array;
  readonly relays: readonly string[];
  /** Messaging ids of the contacts who accepted to hold this user's envelopes while it is offline. */
  readonly replicants: readonly MessagingId[];
  /** Increases with every change; the newest valid seq wins (in the DHT and at contacts). */
  readonly seq: number;
  readonly signature: Uint8Array;
}

export type UnsignedIdentityDocument = Omit<IdentityDocument, 'signature'>;

export type IdentityError =
  | { code: 'IDENTITY_TOO_LARGE'; size: number; max: number }
  | { code: 'IDENTITY_MALFORMED'; reason: string }
  | { code: 'IDENTITY_NOT_AN_IDENTITY'; type: string }
  | { code: 'IDENTITY_UNSUPPORTED_VERSION'; version: string }
  | { code: 'IDENTITY_DUPLICATE_FIELD'; field: string }
  | { code: 'IDENTITY_UNKNOWN_FIELD'; field: string }
  | { code: 'IDENTITY_BAD_FIELD'; field: string; reason: string }
  | { code: 'IDENTITY_BAD_SIGNATURE' };

const SIGNATURE_DOMAIN = utf8('postern/identity/v1\n');
const FIELDS = [
  'type',
  'version',
  'label',
  'pubkey',
  'encryptionKey',
  'relays',
  'replicants',
  'seq',
  'signature',
];

/** The exact bytes the signature covers: a domain tag, then canonical CBOR of every field but the signature. */
export function identitySigningBytes(doc: UnsignedIdentityDocument): Uint8Array {
  return concatBytes(SIGNATURE_DOMAIN, encodeCanonical(signedFields(doc)));
}

function signedFields(doc: UnsignedIdentityDocument): WireMap {
  return {
    type: doc.type,
    version: doc.version,
    label: doc.label,
    pubkey: doc.pubkey,
    encryptionKey: doc.encryptionKey,
    relays: doc.relays,
    replicants: doc.replicants,
    seq: doc.seq,
  };
}

export function signIdentityDocument(
  crypto: CryptoProvider,
  signingSecretKey: Uint8Array,
  doc: UnsignedIdentityDocument,
): IdentityDocument {
  return { ...doc, signature: crypto.ed25519Sign(signingSecretKey, identitySigningBytes(doc)) };
}

/**
 * Checks every field and the signature. Also refuses an encryption key of low order, with which
 * every envelope sealed to this user would have a predictable key.
 */
export function verifyIdentityDocument(
  crypto: CryptoProvider,
  doc: IdentityDocument,
): Result<IdentityDocument, IdentityError> {
  const valid = validateFields(doc);
  if (!valid.ok) return valid;
  if (doc.signature.length !== KeyBytes.ed25519Signature) return badField('signature', 'is not 64 bytes');
  if (!crypto.ed25519Verify(doc.pubkey, identitySigningBytes(doc), doc.signature)) {
    return err({ code: 'IDENTITY_BAD_SIGNATURE' });
  }
  if (!crypto.x25519(LOW_ORDER_PROBE, doc.encryptionKey).ok) {
    return badField('encryptionKey', 'is a low-order X25519 point, not a usable key');
  }
  return ok(doc);
}

// A clamped scalar is a multiple of 8, so it maps every point of order ≤ 8 to zero: any fixed one detects them.
const LOW_ORDER_PROBE = new Uint8Array(32).fill(0x42);

/** The JSON form, two-space indented; binary fields in base64url, ids in their checksummed text form. */
export function formatIdentityDocument(doc: IdentityDocument): string {
  const json = {
    type: doc.type,
    version: doc.version,
    label: doc.label,
    pubkey: encodeIdText(IdPrefix.messaging, doc.pubkey),
    encryptionKey: toBase64url(doc.encryptionKey),
    relays: doc.relays,
    replicants: doc.replicants.map((id) => encodeIdText(IdPrefix.messaging, id)),
    seq: doc.seq,
    signature: toBase64url(doc.signature),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Parses and verifies a JSON identity document, from a file, a paste or a scan. */
export function parseIdentityDocument(
  crypto: CryptoProvider,
  text: string,
): Result<IdentityDocument, IdentityError> {
  const size = utf8(text).length;
  if (size > IdentityLimits.documentBytesMax) {
    return err({ code: 'IDENTITY_TOO_LARGE', size, max: IdentityLimits.documentBytesMax });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return err({ code: 'IDENTITY_MALFORMED', reason: cause instanceof Error ? cause.message : 'not JSON' });
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) return err({ code: 'IDENTITY_DUPLICATE_FIELD', field: duplicate });
  const doc = documentFromJson(json);
  return doc.ok ? verifyIdentityDocument(crypto, doc.value) : doc;
}

/** The binary form stored in the DHT: canonical CBOR of every field, signature included. */
export function encodeIdentityRecord(doc: IdentityDocument): Uint8Array {
  return encodeCanonical({ ...signedFields(doc), signature: doc.signature });
}

export function decodeIdentityRecord(
  crypto: CryptoProvider,
  bytes: Uint8Array,
): Result<IdentityDocument, IdentityError> {
  if (bytes.length > IdentityLimits.documentBytesMax) {
    return err({ code: 'IDENTITY_TOO_LARGE', size: bytes.length, max: IdentityLimits.documentBytesMax });
  }
  const decoded = decodeCanonical(bytes);
  if (!decoded.ok) return err({ code: 'IDENTITY_MALFORMED', reason: describeWireError(decoded.error) });
  const doc = documentFromFields(decoded.value, (field, value) =>
    value instanceof Uint8Array ? ok(value) : notBytes(field),
  );
  return doc.ok ? verifyIdentityDocument(crypto, doc.value) : doc;
}

type BytesReader = (field: string, value: unknown) => Result<Uint8Array, IdentityError>;

function documentFromJson(json: unknown): Result<IdentityDocument, IdentityError> {
  return documentFromFields(json, (field, value) => {
    if (typeof value !== 'string') return badField(field, 'is not a string');
    if (field === 'pubkey' || field.startsWith('replicants')) {
      const id = decodeIdText(IdPrefix.messaging, value);
      return id.ok ? id : badField(field, describeIdTextError(id.error));
    }
    const bytes = fromBase64url(value);
    return bytes.ok ? bytes : badField(field, 'is not base64url');
  });
}

/** Shared by both forms: they differ only in how binary fields are spelled. */
function documentFromFields(input: unknown, readBytes: BytesReader): Result<IdentityDocument, IdentityError> {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || input instanceof Uint8Array) {
    return err({ code: 'IDENTITY_MALFORMED', reason: 'an identity document is a JSON object' });
  }
  const fields = input as Record<string, unknown>;
  if (fields['type'] !== 'Identity') {
    return err({ code: 'IDENTITY_NOT_AN_IDENTITY', type: describeValue(fields['type']) });
  }
  if (fields['version'] !== 1) {
    return err({ code: 'IDENTITY_UNSUPPORTED_VERSION', version: describeValue(fields['version']) });
  }
  for (const field of Object.keys(fields)) {
    if (!FIELDS.includes(field)) return err({ code: 'IDENTITY_UNKNOWN_FIELD', field });
  }
  const pubkey = readBytes('pubkey', fields['pubkey']);
  if (!pubkey.ok) return pubkey;
  const encryptionKey = readBytes('encryptionKey', fields['encryptionKey']);
  if (!encryptionKey.ok) return encryptionKey;
  const signature = readBytes('signature', fields['signature']);
  if (!signature.ok) return signature;
  const replicants = readList(fields['replicants'], 'replicants', (item, i) =>
    readBytes(`replicants[${i}]`, item),
  );
  if (!replicants.ok) return replicants;
  const relays = readList(fields['relays'], 'relays', (item, i) =>
    typeof item === 'string' ? ok(item) : badField(`relays[${i}]`, 'is not a string'),
  );
  if (!relays.ok) return relays;
  const { label, seq } = fields;
  if (typeof label !== 'string') return badField('label', 'is not a string');
  if (typeof seq !== 'number') return badField('seq', 'is not a number');
  const doc: IdentityDocument = {
    type: 'Identity',
    version: 1,
    label,
    pubkey: pubkey.value as MessagingId,
    encryptionKey: encryptionKey.value,
    relays: relays.value,
    replicants: replicants.value as MessagingId[],
    seq,
    signature: signature.value,
  };
  return ok(doc);
}

function readList<T>(
  value: unknown,
  field: string,
  readItem: (item: unknown, index: number) => Result<T, IdentityError>,
): Result<T[], IdentityError> {
  if (!Array.isArray(value)) return badField(field, 'is not a list');
  const out: T[] = [];
  for (const [i, item] of (value as unknown[]).entries()) {
    const read = readItem(item, i);
    if (!read.ok) return read;
    out.push(read.value);
  }
  return ok(out);
}

/** The rules a document obeys whatever its form; also run before signing a new one. */
export function validateFields(doc: UnsignedIdentityDocument): Result<true, IdentityError> {
  const labelProblem = checkLabel(doc.label);
  if (labelProblem) return badField('label', labelProblem);
  if (doc.pubkey.length !== KeyBytes.ed25519Public) return badField('pubkey', 'is not 32 bytes');
  if (doc.encryptionKey.length !== KeyBytes.x25519) return badField('encryptionKey', 'is not 32 bytes');
  if (!Number.isSafeInteger(doc.seq) || doc.seq < 0) return badField('seq', 'is not a whole number ≥ 0');
  if (doc.relays.length > IdentityLimits.relaysMax) {
    return badField('relays', `lists more than ${IdentityLimits.relaysMax} relays`);
  }
  for (const [i, relay] of doc.relays.entries()) {
    const size = utf8(relay).length;
    if (size === 0 || size > IdentityLimits.relayBytesMax || /\s/u.test(relay) || INVISIBLE.test(relay)) {
      return badField(
        `relays[${i}]`,
        `is not an address (1 to ${IdentityLimits.relayBytesMax} bytes, no spaces)`,
      );
    }
  }
  return checkReplicants(doc);
}

function checkReplicants(doc: UnsignedIdentityDocument): Result<true, IdentityError> {
  if (doc.replicants.length > IdentityLimits.replicantsMax) {
    return badField('replicants', `lists more than ${IdentityLimits.replicantsMax} replicants`);
  }
  for (const [i, id] of doc.replicants.entries()) {
    if (id.length !== KeyBytes.ed25519Public) return badField(`replicants[${i}]`, 'is not 32 bytes');
    if (bytesEqual(id, doc.pubkey)) return badField(`replicants[${i}]`, 'is the user itself');
    if (doc.replicants.slice(0, i).some((other) => bytesEqual(other, id))) {
      return badField(`replicants[${i}]`, 'is listed twice');
    }
  }
  return ok(true);
}

/**
 * Characters that print as nothing or rearrange what follows: controls, format characters (bidi
 * overrides, zero-width joiners), line and paragraph separators, lone surrogates, private-use and
 * unassigned code points. A label or relay containing one could show a person something else.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

/** A label is NFC-normalized text a person can read: no control characters, no edge spaces. */
function checkLabel(label: string): string | undefined {
  const chars = [...label].length;
  if (chars === 0 || chars > IdentityLimits.labelCharsMax) {
    return `must have 1 to ${IdentityLimits.labelCharsMax} characters`;
  }
  if (label !== label.normalize('NFC')) return 'is not in Unicode normal form C';
  if (INVISIBLE.test(label)) return 'contains control, formatting or invisible characters';
  if (label.trim() !== label) return 'starts or ends with a space';
  return undefined;
}

function badField(field: string, reason: string): Result<never, IdentityError> {
  return err({ code: 'IDENTITY_BAD_FIELD', field, reason });
}

function notBytes(field: string): Result<never, IdentityError> {
  return badField(field, 'is not a byte string');
}

/** A value from untrusted input, described for an error message: never throws, never long. */
export function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'missing';
  return Array.isArray(value) ? 'a list' : 'an object';
}

function describeWireError(error: WireError): string {
  return 'reason' in error ? `${error.code}: ${error.reason}` : error.code;
}

/** One sentence for a person. */
export function describeIdentityError(error: IdentityError): string {
  switch (error.code) {
    case 'IDENTITY_TOO_LARGE':
      return `the identity document is ${error.size} bytes, more than the ${error.max} allowed`;
    case 'IDENTITY_MALFORMED':
      return `the identity document cannot be read: ${error.reason}`;
    case 'IDENTITY_NOT_AN_IDENTITY':
      return `this is not an identity document (its type is ${error.type}, not "Identity")`;
    case 'IDENTITY_UNSUPPORTED_VERSION':
      return `the identity document has version ${error.version}, which this Postern does not know`;
    case 'IDENTITY_DUPLICATE_FIELD':
      return `the identity document has the field "${error.field}" twice: it was edited`;
    case 'IDENTITY_UNKNOWN_FIELD':
      return `the identity document has a field "${error.field}" that is not part of it: it was edited`;
    case 'IDENTITY_BAD_FIELD':
      return `the identity document's ${error.field} ${error.reason}`;
    case 'IDENTITY_BAD_SIGNATURE':
      return 'the identity document was changed after it was signed: its signature does not match';
  }
}
