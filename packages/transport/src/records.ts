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
export const FLAG_FINAL = 0x01;
export const RECORD_HEADER_BYTES = 6;

export interface LinkRecord {
  readonly kind: RecordKind;
  /** The protocol of a DATA record; the close code of a CLOSE record; 0 otherwise. */
  readonly tag: number;
  readonly flags: number;
  readonly payload: Uint8Array;
}

export function encodeRecord(record: LinkRecord, paddingBlockBytes: number, maxBytes: number): Uint8Array {
  const unpadded = RECORD_HEADER_BYTES + record.payload.length;
  const padded = Math.min(Math.ceil(unpadded / paddingBlockBytes) * paddingBlockBytes, maxBytes);
  const out = new Uint8Array(Math.max(padded, unpadded));
  out[0] = record.kind;
  out[1] = record.tag >>> 8;
  out[2] = record.tag & 0xff;
  out[3] = record.flags;
  out[4] = record.payload.length >>> 8;
  out[5] = record.payload.length & 0xff;
  out.set(record.payload, RECORD_HEADER_BYTES);
  return out;
}

/** Total: a record that `encodeRecord` could not have produced is an error naming what is wrong. */
export function decodeRecord(plaintext: Uint8Array): Result<LinkRecord, string> {
  if (plaintext.length < RECORD_HEADER_BYTES) return err('a record is shorter than its header');
  const kind = plaintext[0] as number;
  if (kind > RecordKind.Close) return err(`unknown record kind ${kind}`);
  const tag = ((plaintext[1] as number) << 8) | (plaintext[2] as number);
  const flags = plaintext[3] as number;
  const length = ((plaintext[4] as number) << 8) | (plaintext[5] as number);
  const end = RECORD_HEADER_BYTES + length;
  if (end > plaintext.length) return err('a record payload runs past its end');
  if ((flags & ~FLAG_FINAL) !== 0 || (kind !== RecordKind.Data && flags !== 0))
    return err('unknown record flags');
  for (let i = end; i < plaintext.length; i++)
    if (plaintext[i] !== 0) return err('record padding is not zero');
  return ok({ kind: kind as RecordKind, tag, flags, payload: plaintext.subarray(RECORD_HEADER_BYTES, end) });
}

export function closeRecord(code: number, reason: string): LinkRecord {
  return { kind: RecordKind.Close, tag: code, flags: 0, payload: utf8(reason.slice(0, 200)) };
}

export function closeReasonText(payload: Uint8Array): string {
  const text = fromUtf8(payload);
  return text.ok ? text.value : '(not UTF-8)';
}
