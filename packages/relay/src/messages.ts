import { type Result, concatBytes, err, ok, utf8 } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type Reader,
  type WireError,
  type WireMap,
  type WireValue,
  decodeCanonical,
  encodeCanonical,
  expectArrayOf,
  expectBytes,
  expectLiteral,
  expectStruct,
  expectText,
  expectUint,
  expectVariant,
} from '@postern/wire';
import type { RelayLimits } from './limits.ts';

/**
 * Seed 003's messages: every request and every answer is `{ msg: { type, from, to, timestamp,
 * request, sig } }`, plus a `nonce`. `sig` is Ed25519 by `from` over SIGN_DOMAIN ‖ the canonical
 * CBOR of `msg` without `sig`, so the JSON form (WebSocket) and the CBOR form (Noise links) carry
 * the same signature. Spec: docs/protocols/relay.md.
 */
export const SIGN_DOMAIN = utf8('postern/relay/v1\n');

/** The link protocol number of relay messages on Postern's Noise links (CBOR form). */
export const RELAY_PROTOCOL = 4;

export const RECORD_ID_BYTES = 16;
export const NONCE_BYTES = 16;
const KEY_BYTES = 32;
const SIG_BYTES = 64;

export type WriteRequest = {
  readonly type: 'write';
  readonly recordId: Uint8Array;
  /** Milliseconds after `timestamp` at which the record expires. */
  readonly ttl: number;
  readonly tag: string;
  /** A sealed envelope to the receiver: the relay can neither read nor alter it. */
  readonly content: Uint8Array;
};
export type ReadRequest = { readonly type: 'read'; readonly path: string };
export type InventoryRequest = {
  readonly type: 'inventory';
  readonly afterTs: number;
  readonly beforeTs: number;
};
export type ListenRequest = { readonly type: 'listen'; readonly afterTs: number };
export type DeleteRequest = { readonly type: 'delete'; readonly recordId: Uint8Array };
export type UsageRequest = {
  readonly type: 'RequestUsage';
  readonly afterTs: number;
  readonly beforeTs: number;
};

export type RelayRequest =
  WriteRequest | ReadRequest | InventoryRequest | ListenRequest | DeleteRequest | UsageRequest;

/** The answer to the request whose nonce is `re`; `value` depends on the request (see `answers.ts`). */
export type ResultAnswer = { readonly type: 'result'; readonly re: Uint8Array; readonly value: WireValue };
export type ErrorAnswer = {
  readonly type: 'error';
  readonly re: Uint8Array;
  /** A RelayErrorCode, for programs. */
  readonly code: string;
  /** One sentence for people: the seed's "error string". */
  readonly error: string;
};
/** New record paths for a listen whose nonce is `re`. */
export type PushAnswer = {
  readonly type: 'records';
  readonly re: Uint8Array;
  readonly paths: readonly string[];
};

export type RelayAnswer = ResultAnswer | ErrorAnswer | PushAnswer;
export type RelayBody = RelayRequest | RelayAnswer;

export interface RelayMessage<B extends RelayBody = RelayBody> {
  readonly type: B['type'];
  readonly from: Uint8Array;
  readonly to: Uint8Array;
  /** The signer's wall clock, ms since the Unix epoch. */
  readonly timestamp: number;
  readonly nonce: Uint8Array;
  readonly request: B;
  readonly sig: Uint8Array;
}

export type UnsignedRelayMessage<B extends RelayBody = RelayBody> = Omit<RelayMessage<B>, 'sig' | 'type'>;

export const REQUEST_TYPES: ReadonlySet<string> = new Set([
  'write',
  'read',
  'inventory',
  'listen',
  'delete',
  'RequestUsage',
]);

export function isRequest(message: RelayMessage): message is RelayMessage<RelayRequest> {
  return REQUEST_TYPES.has(message.request.type);
}

const anyValue: Reader<WireValue> = (value) => ok(value);

function bodyReaders(limits: RelayLimits) {
  const path = expectText(limits.pathBytesMax);
  const ts = expectUint();
  const re = expectBytes(NONCE_BYTES);
  return {
    write: expectStruct({
      type: expectLiteral('write'),
      recordId: expectBytes(RECORD_ID_BYTES),
      ttl: expectUint(),
      tag: expectText(limits.tagBytesMax),
      content: expectBytes({ min: 1, max: limits.contentBytesMax }),
    }),
    read: expectStruct({ type: expectLiteral('read'), path }),
    inventory: expectStruct({ type: expectLiteral('inventory'), afterTs: ts, beforeTs: ts }),
    listen: expectStruct({ type: expectLiteral('listen'), afterTs: ts }),
    delete: expectStruct({ type: expectLiteral('delete'), recordId: expectBytes(RECORD_ID_BYTES) }),
    RequestUsage: expectStruct({ type: expectLiteral('RequestUsage'), afterTs: ts, beforeTs: ts }),
    result: expectStruct({ type: expectLiteral('result'), re, value: anyValue }),
    error: expectStruct({
      type: expectLiteral('error'),
      re,
      code: expectText(64),
      error: expectText(1024),
    }),
    records: expectStruct({
      type: expectLiteral('records'),
      re,
      paths: expectArrayOf(path, { min: 1, max: limits.pathsPerAnswerMax }),
    }),
  };
}

/** The reader of a whole `{ msg }` value, for these limits. Readers are cached per limits object. */
const readers = new WeakMap<RelayLimits, Reader<RelayMessage>>();

export function messageReader(limits: RelayLimits): Reader<RelayMessage> {
  const cached = readers.get(limits);
  if (cached !== undefined) return cached;
  const body = expectVariant('type', bodyReaders(limits)) as Reader<RelayBody>;
  const inner = expectStruct({
    type: expectText(32),
    from: expectBytes(KEY_BYTES),
    to: expectBytes(KEY_BYTES),
    timestamp: expectUint(),
    nonce: expectBytes(NONCE_BYTES),
    request: body,
    sig: expectBytes(SIG_BYTES),
  });
  const outer = expectStruct({ msg: inner });
  const reader: Reader<RelayMessage> = (value, field) => {
    const read = outer(value, field);
    if (!read.ok) return read;
    const msg = read.value.msg;
    if (msg.type !== msg.request.type) {
      return err({ code: 'WIRE_BAD_FIELD', field: `${field}.msg.type`, reason: 'differs from request.type' });
    }
    return ok(msg as RelayMessage);
  };
  readers.set(limits, reader);
  return reader;
}

/**
 * Why a message was refused, and whom to tell: a message that is well-formed enough to show its
 * `from` and `nonce` gets its error answered to them, so the sender can match it to its request.
 */
export interface RelayDecodeError {
  readonly error: WireError;
  readonly from?: Uint8Array;
  readonly nonce?: Uint8Array;
}

/** The CBOR form (Noise links): total, like every decoder. */
export function decodeRelayMessage(
  bytes: Uint8Array,
  limits: RelayLimits,
): Result<RelayMessage, RelayDecodeError> {
  const value = decodeCanonical(bytes, { maxBytes: limits.messageBytesMax });
  if (!value.ok) return err({ error: value.error });
  return readRelayValue(value.value, limits);
}

/** A decoded `{ msg }` value as a message, or the error with whatever address it shows. */
export function readRelayValue(
  value: WireValue,
  limits: RelayLimits,
): Result<RelayMessage, RelayDecodeError> {
  const read = messageReader(limits)(value, '$');
  return read.ok ? read : err({ error: read.error, ...peekAddress(value) });
}

function peekAddress(value: WireValue): { from?: Uint8Array; nonce?: Uint8Array } {
  const msg = isMap(value) ? value['msg'] : undefined;
  if (msg === undefined || !isMap(msg)) return {};
  const { from, nonce } = msg;
  if (!(from instanceof Uint8Array) || from.length !== KEY_BYTES) return {};
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) return {};
  return { from, nonce };
}

function isMap(value: WireValue | undefined): value is WireMap {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

export function encodeRelayMessage(message: RelayMessage): Uint8Array {
  return encodeCanonical(messageValue(message));
}

/** The `{ msg }` value of a message, as both forms carry it. */
export function messageValue(message: RelayMessage): WireMap {
  return { msg: { ...unsignedValue(message), sig: message.sig } };
}

function unsignedValue(message: UnsignedRelayMessage): WireMap {
  return {
    type: message.request.type,
    from: message.from,
    to: message.to,
    timestamp: message.timestamp,
    nonce: message.nonce,
    request: message.request,
  };
}

/** The exact bytes `sig` covers. */
export function signingBytes(message: UnsignedRelayMessage): Uint8Array {
  return concatBytes(SIGN_DOMAIN, encodeCanonical(unsignedValue(message)));
}

export interface SigningKey {
  readonly publicKey: Uint8Array;
  /** 64 bytes: seed ‖ public key. */
  readonly secretKey: Uint8Array;
}

/** Signs a message from `key.publicKey`; the nonce is fresh from the provider's randomness. */
export function signRelayMessage<B extends RelayBody>(
  crypto: CryptoProvider,
  key: SigningKey,
  to: Uint8Array,
  timestamp: number,
  request: B,
): RelayMessage<B> {
  const unsigned = { from: key.publicKey, to, timestamp, nonce: crypto.randomBytes(NONCE_BYTES), request };
  const sig = crypto.ed25519Sign(key.secretKey, signingBytes(unsigned));
  return { ...unsigned, type: request.type, sig };
}

export function verifyRelayMessage(crypto: CryptoProvider, message: RelayMessage): boolean {
  return crypto.ed25519Verify(message.from, signingBytes(message), message.sig);
}
