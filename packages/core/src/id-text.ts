import { bech32m } from '@scure/base';
import { err, ok, type Result } from './result.ts';
import { UsageError } from './assert.ts';

/**
 * The text form of 32-byte ids shown to people: bech32m (BIP 350) with a prefix naming the kind of
 * id. Its checksum detects any error in up to 4 characters, so a mistyped id is rejected rather than
 * silently naming someone else. Case-insensitive (uppercase suits QR codes), never mixed case.
 */
export const IdPrefix = {
  messaging: 'postern',
  node: 'pnode',
} as const;
export type IdPrefix = (typeof IdPrefix)[keyof typeof IdPrefix];

export type IdTextError =
  | { code: 'ID_TEXT_MALFORMED'; reason: string }
  | { code: 'ID_TEXT_WRONG_KIND'; expected: IdPrefix; found: string }
  | { code: 'ID_TEXT_BAD_CHECKSUM' }
  | { code: 'ID_TEXT_BAD_LENGTH'; bytes: number };

const ID_BYTES = 32;
// prefix + '1' + 52 data characters + 6 checksum characters; anything longer is not an id.
const MAX_TEXT_LENGTH = 90;
const BECH32_CHARSET = /^[qpzry9x8gf2tvdw0s3jn54khce6mua7l]+$/;

export function encodeIdText(prefix: IdPrefix, id: Uint8Array): string {
  if (id.length !== ID_BYTES)
    throw new UsageError('ID_TEXT_BAD_LENGTH', `an id is ${ID_BYTES} bytes, got ${id.length}`);
  return bech32m.encode(prefix, bech32m.toWords(id), MAX_TEXT_LENGTH);
}

export function decodeIdText(prefix: IdPrefix, input: string): Result<Uint8Array, IdTextError> {
  const text = input.trim();
  if (text.length > MAX_TEXT_LENGTH)
    return err({ code: 'ID_TEXT_MALFORMED', reason: 'too long to be an id' });
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) {
    return err({ code: 'ID_TEXT_MALFORMED', reason: 'mixes upper and lower case' });
  }
  const lower = text.toLowerCase();
  const separator = lower.lastIndexOf('1');
  if (separator < 1) return err({ code: 'ID_TEXT_MALFORMED', reason: `does not start with "${prefix}1"` });
  const found = lower.slice(0, separator);
  if (found !== prefix) return err({ code: 'ID_TEXT_WRONG_KIND', expected: prefix, found });
  if (!BECH32_CHARSET.test(lower.slice(separator + 1))) {
    return err({
      code: 'ID_TEXT_MALFORMED',
      reason: 'contains a character that ids never use (b, i, o or 1)',
    });
  }
  const decoded = bech32m.decodeUnsafe(lower, MAX_TEXT_LENGTH);
  if (!decoded) return err({ code: 'ID_TEXT_BAD_CHECKSUM' });
  const bytes = bech32m.fromWordsUnsafe(decoded.words);
  if (!bytes || bytes.length !== ID_BYTES)
    return err({ code: 'ID_TEXT_BAD_LENGTH', bytes: bytes?.length ?? 0 });
  return ok(bytes);
}

/** One sentence for a person who typed or pasted an id. */
export function describeIdTextError(error: IdTextError): string {
  switch (error.code) {
    case 'ID_TEXT_MALFORMED':
      return `that is not a Postern id: it ${error.reason}`;
    case 'ID_TEXT_WRONG_KIND':
      return `that id starts with "${error.found}1" but a "${error.expected}1…" id was expected`;
    case 'ID_TEXT_BAD_CHECKSUM':
      return 'that id has a typo: its checksum does not match (check each character, or paste it again)';
    case 'ID_TEXT_BAD_LENGTH':
      return `that id holds ${error.bytes} bytes, not 32: part of it is missing or extra`;
  }
}
