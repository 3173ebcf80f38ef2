export { ok, err, unwrap, mapResult, AssertionError, type Result, type Ok, type Err } from './result.ts';
export { assert, assertNever, UsageError } from './assert.ts';
export { millis, type Brand, type Millis, type NodeId, type MessagingId } from './brand.ts';
export {
  toHex,
  fromHex,
  toBase64url,
  fromBase64url,
  utf8,
  utf8Fits,
  fromUtf8,
  concatBytes,
  bytesEqual,
  compareBytes,
  writeU32BE,
  readU32BE,
  type BytesError,
} from './bytes.ts';
export { IdPrefix, encodeIdText, decodeIdText, describeIdTextError, type IdTextError } from './id-text.ts';
export { Rng } from './rng.ts';
export { BoundedLru, BoundedFifo, type FifoPush } from './collections.ts';
export type { Output, Machine } from './machine.ts';
export { PairDriver, type PairEndpoint, type PairDriverOptions, type DriveResult } from './pair-driver.ts';
