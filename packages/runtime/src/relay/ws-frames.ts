import type { Result } from '@postern/core';
import {
  type Base64urlCodec,
  type RelayDecodeError,
  type RelayLimits,
  type RelayMessage,
  decodeRelayJson,
  decodeRelayMessage,
  encodeRelayJson,
} from '@postern/relay';
import type { RawData } from 'ws';

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * base64url on Node's Buffer (native, ~17× @scure/base on a 512-byte record). Buffer's decoder
 * skips characters it does not know, so the alphabet, the length and the round trip are checked:
 * one spelling per byte string, as the portable codec has.
 */
export const NODE_BASE64URL: Base64urlCodec = {
  encode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url'),
  decode: (text) => {
    if (text.length % 4 === 1 || !BASE64URL.test(text)) return undefined;
    const buffer = Buffer.from(text, 'base64url');
    if (buffer.toString('base64url') !== text) return undefined;
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  },
};

/** One WebSocket message as a relay message: text frames are JSON, binary frames CBOR. */
export function decodeFrame(
  data: RawData,
  isBinary: boolean,
  limits: RelayLimits,
): Result<RelayMessage, RelayDecodeError> {
  const raw = Buffer.isBuffer(data)
    ? data
    : Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.from(new Uint8Array(data));
  return isBinary
    ? decodeRelayMessage(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), limits)
    : decodeRelayJson(raw.toString('utf8'), limits, NODE_BASE64URL);
}

export function encodeJsonFrame(message: RelayMessage): string {
  return encodeRelayJson(message, NODE_BASE64URL);
}
