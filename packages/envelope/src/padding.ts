import { type Result, err, ok, readU32BE, writeU32BE } from '@postern/core';
import { EnvelopeLimits } from './limits.ts';

/**
 * Plaintext padding to size buckets, so a carrier learns little from an envelope's size.
 * Buckets follow Padmé (Nikitin et al., PETS 2019: at most 12 % overhead, leaking O(log log L) bits of
 * the length L), with a floor of `paddedBytesMin` so every short message has one size.
 * Layout: u32 big-endian body length ‖ body ‖ zero bytes up to the bucket size.
 */
const LENGTH_PREFIX = 4;

export function paddedSize(plainLength: number): number {
  if (plainLength <= EnvelopeLimits.paddedBytesMin) return EnvelopeLimits.paddedBytesMin;
  const e = Math.floor(Math.log2(plainLength));
  const s = Math.floor(Math.log2(e)) + 1;
  const mask = 2 ** (e - s) - 1;
  return Math.ceil(plainLength / (mask + 1)) * (mask + 1);
}

export function pad(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(paddedSize(LENGTH_PREFIX + body.length));
  writeU32BE(out, 0, body.length);
  out.set(body, LENGTH_PREFIX);
  return out;
}

/** Refuses anything `pad` would not have produced: a wrong bucket, a length past the end, non-zero padding. */
export function unpad(padded: Uint8Array): Result<Uint8Array, string> {
  if (padded.length < LENGTH_PREFIX) return err('shorter than its length prefix');
  const length = readU32BE(padded, 0);
  if (LENGTH_PREFIX + length > padded.length) return err('body length runs past the end');
  if (paddedSize(LENGTH_PREFIX + length) !== padded.length) return err('not padded to its size bucket');
  for (let i = LENGTH_PREFIX + length; i < padded.length; i++) {
    if (padded[i] !== 0) return err('padding is not zero');
  }
  return ok(padded.subarray(LENGTH_PREFIX, LENGTH_PREFIX + length));
}
