import { type Result, err, fromBase64url, ok, toBase64url, utf8 } from '@postern/core';
import type { WireError, WireMap, WireValue } from '@postern/wire';
import type { RelayLimits } from './limits.ts';
import { type RelayDecodeError, type RelayMessage, messageValue, readRelayValue } from './messages.ts';

/**
 * The JSON form of relay messages (WebSocket): the same `{ msg }` value as the CBOR form, with every
 * byte string as unpadded base64url text. Which fields are bytes is fixed by name, so a JSON client
 * needs no schema beyond this list to compute the signed bytes. Spec: docs/protocols/relay.md.
 */
export const BYTE_FIELDS: ReadonlySet<string> = new Set([
  'from',
  'to',
  'nonce',
  'sig',
  'recordId',
  'content',
  're',
  'receiver',
]);

/**
 * How byte strings become text and back. The default is @scure/base (pure JS, any platform); the
 * Node runtime passes one built on Buffer, ~17× faster on a 512-byte record, which matters at
 * thousands of records a second. A codec must refuse what is not canonical unpadded base64url.
 */
export interface Base64urlCodec {
  encode(bytes: Uint8Array): string;
  decode(text: string): Uint8Array | undefined;
}

export const PORTABLE_BASE64URL: Base64urlCodec = {
  encode: toBase64url,
  decode: (text) => {
    const bytes = fromBase64url(text);
    return bytes.ok ? bytes.value : undefined;
  },
};

/** JSON nests no deeper than the messages do; bounds the recursion on hostile input. */
const JSON_DEPTH_MAX = 16;

export function encodeRelayJson(message: RelayMessage, base64: Base64urlCodec = PORTABLE_BASE64URL): string {
  return JSON.stringify(toJsonValue(messageValue(message), base64));
}

/** Parses one JSON text into a message: total, every failure a WireError naming the field. */
export function decodeRelayJson(
  text: string,
  limits: RelayLimits,
  base64: Base64urlCodec = PORTABLE_BASE64URL,
): Result<RelayMessage, RelayDecodeError> {
  if (text.length > limits.messageBytesMax || utf8(text).length > limits.messageBytesMax) {
    return err({ error: { code: 'WIRE_TOO_LARGE', size: utf8(text).length, max: limits.messageBytesMax } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    return err({
      error: { code: 'WIRE_MALFORMED', offset: 0, reason: `not JSON: ${(cause as Error).message}` },
    });
  }
  const value = fromJsonValue(parsed, '$', undefined, 0, base64);
  return value.ok ? readRelayValue(value.value, limits) : err({ error: value.error });
}

export function toJsonValue(value: WireValue, base64: Base64urlCodec = PORTABLE_BASE64URL): unknown {
  if (value instanceof Uint8Array) return base64.encode(value);
  if (Array.isArray(value)) return value.map((item: WireValue) => toJsonValue(item, base64));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as WireMap)) out[key] = toJsonValue(item, base64);
    return out;
  }
  return value;
}

function fromJsonValue(
  value: unknown,
  field: string,
  key: string | undefined,
  depth: number,
  base64: Base64urlCodec,
): Result<WireValue, WireError> {
  if (depth > JSON_DEPTH_MAX) return bad(field, `nested deeper than ${JSON_DEPTH_MAX}`);
  if (typeof value === 'string') {
    if (key === undefined || !BYTE_FIELDS.has(key)) return ok(value);
    const bytes = base64.decode(value);
    return bytes !== undefined ? ok(bytes) : bad(field, 'expected unpadded base64url');
  }
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? ok(value) : bad(field, 'expected a safe integer');
  }
  if (value === null || typeof value === 'boolean') return ok(value);
  if (Array.isArray(value)) return fromJsonArray(value as unknown[], field, key, depth, base64);
  return fromJsonObject(value as Record<string, unknown>, field, depth, base64);
}

function fromJsonArray(
  items: readonly unknown[],
  field: string,
  key: string | undefined,
  depth: number,
  base64: Base64urlCodec,
): Result<WireValue, WireError> {
  const out: WireValue[] = [];
  for (const [i, item] of items.entries()) {
    const read = fromJsonValue(item, `${field}[${i}]`, key, depth + 1, base64);
    if (!read.ok) return read;
    out.push(read.value);
  }
  return ok(out);
}

function fromJsonObject(
  object: Record<string, unknown>,
  field: string,
  depth: number,
  base64: Base64urlCodec,
): Result<WireValue, WireError> {
  const out: Record<string, WireValue> = {};
  for (const [name, item] of Object.entries(object)) {
    if (name === '__proto__') return bad(`${field}.${name}`, 'unexpected key');
    const read = fromJsonValue(item, `${field}.${name}`, name, depth + 1, base64);
    if (!read.ok) return read;
    out[name] = read.value;
  }
  return ok(out);
}

function bad(field: string, reason: string): Result<never, WireError> {
  return err({ code: 'WIRE_BAD_FIELD', field, reason });
}
