import { base64urlnopad, hex } from '@scure/base';
import { err, ok, type Result } from './result.ts';

export type BytesError =
  | { code: 'BYTES_BAD_HEX'; reason: string }
  | { code: 'BYTES_BAD_BASE64URL'; reason: string }
  | { code: 'BYTES_BAD_UTF8' };

const HEX_PAIRS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex. A table lookup per byte: ids are hex map keys on hot paths (the DHT, the simulator). */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX_PAIRS[byte] as string;
  return out;
}

/** Decodes lowercase or uppercase hex; odd lengths and non-hex characters are errors. */
export function fromHex(text: string): Result<Uint8Array, BytesError> {
  if (text.length % 2 !== 0) return err({ code: 'BYTES_BAD_HEX', reason: 'odd number of hex digits' });
  if (!/^[0-9a-fA-F]*$/.test(text))
    return err({ code: 'BYTES_BAD_HEX', reason: 'a character is not a hex digit' });
  return ok(hex.decode(text.toLowerCase()));
}

/** base64url without padding (RFC 4648 §5): how binary fields appear in Postern's JSON. */
export function toBase64url(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes);
}

export function fromBase64url(text: string): Result<Uint8Array, BytesError> {
  try {
    return ok(base64urlnopad.decode(text));
  } catch (cause) {
    return err({
      code: 'BYTES_BAD_BASE64URL',
      reason: cause instanceof Error ? cause.message : String(cause),
    });
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Whether `text` encodes to at most `maxBytes` of UTF-8; short text is answered without encoding (a UTF-16 unit is at most 3 bytes). */
export function utf8Fits(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || utf8(text).length <= maxBytes;
}

/** Strict UTF-8 decoding: invalid sequences are an error, never replacement characters. */
export function fromUtf8(bytes: Uint8Array): Result<string, BytesError> {
  if (bytes.length <= SHORT_TEXT_BYTES) {
    // Short ASCII (map keys, kinds, addresses) without the cost of calling into the decoder.
    let text = '';
    for (const byte of bytes) {
      if (byte >= 0x80) return decodeStrict(bytes);
      text += String.fromCharCode(byte);
    }
    return ok(text);
  }
  return decodeStrict(bytes);
}

/** Up to this many bytes, fromUtf8 tries the ASCII loop first. */
const SHORT_TEXT_BYTES = 64;

function decodeStrict(bytes: Uint8Array): Result<string, BytesError> {
  try {
    return ok(utf8Decoder.decode(bytes));
  } catch {
    return err({ code: 'BYTES_BAD_UTF8' });
  }
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Equality of public values. Not constant-time: compare secrets (MACs, keys) with the crypto provider. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order, shorter first on a common prefix. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Big-endian unsigned integers, for fixed-layout headers such as frame lengths. */
export function writeU32BE(target: Uint8Array, offset: number, value: number): void {
  new DataView(target.buffer, target.byteOffset, target.byteLength).setUint32(offset, value, false);
}

export function readU32BE(source: Uint8Array, offset: number): number {
  return new DataView(source.buffer, source.byteOffset, source.byteLength).getUint32(offset, false);
}
