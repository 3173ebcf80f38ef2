import { concatBytes, utf8 } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';

const PUZZLE_DOMAIN = utf8('postern/node-id-puzzle/v1\n');

/** The hardest puzzle a limit may ask for: 2^24 key generations is minutes for an honest node. */
export const ID_PUZZLE_BITS_MAX = 24;

/**
 * S/Kademlia's static puzzle (§4.1): a node id counts only if BLAKE2b-256(domain ‖ id) starts with
 * `bits` zero bits. An id is the hash of its node's key, so meeting the puzzle costs ~2^bits key
 * generations — once for an honest node, and 2^bits times more for an attacker who wants ids near
 * a chosen key (2^(bits + p) to share p bits with it). Anyone can check it from the id alone.
 * It prices real identities; a made-up contact in an answer needs no key, only ~2^bits hashes —
 * referral accountability in lookup paths is what deals with those.
 */
export function meetsIdPuzzle(crypto: CryptoProvider, id: Uint8Array, bits: number): boolean {
  if (bits <= 0) return true;
  const digest = crypto.blake2b(concatBytes(PUZZLE_DOMAIN, id), 32);
  let zeros = 0;
  for (const byte of digest) {
    if (byte !== 0) return zeros + Math.clz32(byte) - 24 >= bits;
    zeros += 8;
    if (zeros >= bits) return true;
  }
  return true;
}
