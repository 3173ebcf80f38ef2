import type { RelayDecodeError, RelayLimits, RelayMessage } from '@postern/relay';
import { decodeRelayJson, decodeRelayMessage } from '@postern/relay';
import type { Result } from '@postern/core';
import type { RawData } from 'ws';

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
    : decodeRelayJson(raw.toString('utf8'), limits);
}
