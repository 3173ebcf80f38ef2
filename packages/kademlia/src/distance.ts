import { UsageError } from '@postern/core';

/** Node ids and record keys are 256-bit: BLAKE2b-256 outputs, compared by XOR distance. */
export const ID_BYTES = 32;
export const ID_BITS = ID_BYTES * 8;

/** Throws UsageError 'KAD_BAD_ID' unless `id` is 32 bytes (ids from the network are checked by their codecs). */
export function requireId(id: Uint8Array, name: string): void {
  if (id.length !== ID_BYTES) {
    throw new UsageError('KAD_BAD_ID', `${name} must be ${ID_BYTES} bytes, got ${id.length}`);
  }
}

/** a ⊕ b, the Kademlia distance, as a fresh 32-byte array. */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(ID_BYTES);
  for (let i = 0; i < ID_BYTES; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

/** Negative when `a` is closer to `target` than `b`, positive when farther, 0 when a = b. No allocation. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const t = target[i] as number;
    const da = (a[i] as number) ^ t;
    const db = (b[i] as number) ^ t;
    if (da !== db) return da - db;
  }
  return 0;
}

/**
 * How many leading bits two ids share: 256 for equal ids. The routing table keeps a contact in
 * bucket `commonPrefixBits(self, id)`, so bucket 0 holds half the id space and bucket 255 one id.
 */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = (a[i] as number) ^ (b[i] as number);
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/**
 * An id sharing exactly `bits` leading bits with `self` (then differing at bit `bits`), the rest
 * taken from `random`: a lookup target inside one bucket, for refreshing it.
 */
export function idInBucket(self: Uint8Array, bits: number, random: Uint8Array): Uint8Array {
  if (!Number.isInteger(bits) || bits < 0 || bits >= ID_BITS) {
    throw new UsageError('KAD_BAD_BUCKET', `a bucket is 0 to ${ID_BITS - 1}, got ${bits}`);
  }
  requireId(random, 'random');
  const out = random.slice();
  const byte = bits >>> 3;
  const bit = 7 - (bits & 7); // bit position inside the byte, 7 = most significant
  for (let i = 0; i < byte; i++) out[i] = self[i] as number;
  const keepMask = (0xff << (bit + 1)) & 0xff; // the bits of this byte before `bits`
  const flip = 1 << bit;
  const own = self[byte] as number;
  out[byte] = (own & keepMask) | (~own & flip) | ((random[byte] as number) & (flip - 1));
  return out;
}
