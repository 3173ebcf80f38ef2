// Ed25519 inputs on which verifiers are known to disagree, built with noble's point arithmetic: the
// cross-provider test checks that the noble provider answers exactly as libsodium does on them.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@postern/core';
import { hex } from './helpers.ts';

const Point = ed25519.Point;
type EdPoint = ReturnType<typeof Point.fromBytes>;
const L = Point.Fn.ORDER;
const p = 2n ** 255n - 19n;

/** A point of order 8; its multiples are the eight points of small order. */
const order8 = Point.fromBytes(hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'));
export const smallOrderPoints: readonly EdPoint[] = [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n].map((n) =>
  n === 0n ? Point.ZERO : order8.multiplyUnsafe(n),
);

function le(n: bigint): Uint8Array {
  return numberToBytesLE(n, 32);
}

/**
 * Point encodings at the edges: the eight small-order points, non-canonical y (y ≥ p), the sign
 * bit set on x = 0 ("negative zero"), a y off the curve, an honest key and a mixed-order key.
 */
export function edgeEncodings(honest: EdPoint): Uint8Array[] {
  const signed = (bytes: Uint8Array): Uint8Array => bytes.map((b, i) => (i === 31 ? b | 0x80 : b));
  return [
    ...smallOrderPoints.map((point) => point.toBytes()),
    le(p), // y = 0 written as p
    le(p + 1n), // y = 1 written as p + 1
    le(p + 2n),
    signed(le(1n)), // the identity with the sign bit: -0
    signed(le(p - 1n)), // the point of order 2 with the sign bit: -0
    le(2n), // y = 2 is not on the curve
    honest.toBytes(),
    honest.add(order8).toBytes(),
  ];
}

export const edgeScalars: readonly Uint8Array[] = [0n, 1n, L - 1n, L, L + 1n, 2n ** 256n - 1n].map(le);

function hashToScalar(...parts: Uint8Array[]): bigint {
  return Point.Fn.create(bytesToNumberLE(sha512(concatBytes(...parts))));
}

/**
 * A signature by `seed` with `torsion` (a small-order point) added to R or to the public key A, or
 * standing alone as R (nonce 0), and S computed so that the cofactored equation 8(R + kA − SB) = 0
 * holds. libsodium (cofactorless, small-order R refused) accepts it only when the torsion cancels
 * exactly; noble's default verify would accept them all.
 */
export function torsionSignature(
  seed: Uint8Array,
  message: Uint8Array,
  torsion: EdPoint,
  where: 'R' | 'A' | 'R alone',
): { publicKey: Uint8Array; signature: Uint8Array } {
  const { scalar, point } = ed25519.utils.getExtendedPublicKey(seed);
  const nonce = where === 'R alone' ? 0n : hashToScalar(seed, message);
  const r = Point.BASE.multiplyUnsafe(nonce).add(where === 'A' ? Point.ZERO : torsion);
  const a = where === 'A' ? point.add(torsion) : point;
  const k = hashToScalar(r.toBytes(), a.toBytes(), message);
  const s = Point.Fn.create(nonce + k * scalar);
  return { publicKey: a.toBytes(), signature: concatBytes(r.toBytes(), le(s)) };
}

export function honestPoint(seed: Uint8Array): EdPoint {
  return ed25519.utils.getExtendedPublicKey(seed).point;
}
