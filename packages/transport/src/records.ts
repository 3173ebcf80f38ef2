import { type Result, err, fromUtf8, ok, utf8 } from '@postern/core';

/**
 * The plaintext of one Noise transport message (a record):
 *
 *   u8 kind ‖ u16 BE protocol-or-code ‖ u8 flags ‖ u16 BE payload length ‖ payload ‖ zero padding
 *
 * padded to a multiple of the padding block (NoiseSocket style), so sizes on the wire say less.
 * DATA carries a fragment of an application message for `protocol` (flag FINAL on the last one);
 * PING and PONG carry 8 bytes; CLOSE carries a code and a UTF-8 reason.
 */
export const RecordKind = { Data: 0, Ping: 1, Pong: 2, Close: 3 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];
/** On DATA: the last fragment of a message. */
export const FLAG_FINAL = 0x01;
/** On CLOSE: a graceful close (the sender flushed and keeps reading until the peer's CLOSE). */
export const FLAG_GRACEFUL = 0x01;
/** A CLOSE reason is at most this many bytes of UTF-8. */
export const CLOSE_REASON_BYTES_MAX = 200;
/** PING and PONG carry exactly this many bytes. */
export const PING_BYTES = 8;
export const RECORD_HEADER_BYTES = 6;

export interface LinkRecord {
  readonly kind: RecordKind;
  /** The protocol of a DATA record; the close code of a CLOSE record; 0 otherwise. */
  readonly tag: number;
  readonly flags: number;
  readonly payload: Uint8Array;
}

/** The plaintext length of a record carrying `payloadBytes`: header and payload, padded. */
export function recordLength(payloadBytes: number, paddingBlockBytes: number, maxBytes: number): number {
  const unpadded = RECORD_HEADER_BYTES + payloadBytes;
  return Math.max(Math.min(Math.ceil(unpadded / paddingBlockBytes) * paddingBlockBytes, maxBytes), unpadded);
}

/** Writes the record at `offset` of `out`, which must be zero from there to the record's padded end. */
export function writeRecord(record: LinkRecord, out: Uint8Array, offset: number): void {
  out[offset] = record.kind;
  out[offset + 1] = record.tag >>> 8;
  out[offset + 2] = record.tag & 0xff;
  out[offset + 3] = record.flags;
  out[offset + 4] = record.payload.length >>> 8;
  out[offset + 5] = record.payload.length & 0xff;
  out.set(record.payload, offset + RECORD_HEADER_BYTES);
}

/** Total: a record that `writeRecord` could not have produced is an error naming what is wrong. */
export function decodeRecord(plaintext: Uint8Array): Result<LinkRecord, string> {
  if (plaintext.length < RECORD_HEADER_BYTES) return err('a record is shorter than its header');
  const kind = plaintext[0] as number;
  if (kind > RecordKind.Close) return err(`unknown record kind ${kind}`);
  const tag = ((plaintext[1] as number) << 8) | (plaintext[2] as number);
  const flags = plaintext[3] as number;
  const length = ((plaintext[4] as number) << 8) | (plaintext[5] as number);
  const end = RECORD_HEADER_BYTES + length;
  if (end > plaintext.length) return err('a record payload runs past its end');
  const flagged = kind === RecordKind.Data || kind === RecordKind.Close; // only these have a flag bit
  if ((flags & ~FLAG_FINAL) !== 0 || (!flagged && flags !== 0)) return err('unknown record flags');
  if ((kind === RecordKind.Ping || kind === RecordKind.Pong) && (tag !== 0 || length !== PING_BYTES)) {
    return err('a PING or PONG is 8 bytes with tag 0');
  }
  if (kind === RecordKind.Close && length > CLOSE_REASON_BYTES_MAX) return err('a CLOSE reason is too long');
  for (let i = end; i < plaintext.length; i++)
    if (plaintext[i] !== 0) return err('record padding is not zero');
  return ok({ kind: kind as RecordKind, tag, flags, payload: plaintext.subarray(RECORD_HEADER_BYTES, end) });
}

export function closeRecord(code: number, reason: string, graceful: boolean): LinkRecord {
  let payload = utf8(reason);
  // Cut to the byte limit on a character boundary (a UTF-8 continuation byte is 10xxxxxx).
  if (payload.length > CLOSE_REASON_BYTES_MAX) {
    let end = CLOSE_REASON_BYTES_MAX;
    while (end > 0 && ((payload[end] as number) & 0xc0) === 0x80) end--;
    payload = payload.subarray(0, end);
  }
  return { kind: RecordKind.Close, tag: code, flags: graceful ? FLAG_GRACEFUL : 0, payload };
}

export function closeReasonText(payload: Uint8Array): string {
  const text = fromUtf8(payload);
  return text.ok ? text.value : '(not UTF-8)';
}
