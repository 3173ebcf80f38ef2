import type { HandshakeStatus } from './types.ts';

/**
 * What bad input from the network produces: never an exception. Misuse by the caller (a wrong
 * turn, a missing key, an oversized payload) is a thrown UsageError with a NOISE_* code instead.
 */
export type NoiseError =
  /** The AEAD tag did not verify: a tampered or misdirected message, or a wrong key or psk. */
  | { readonly code: 'NOISE_DECRYPT_FAILED' }
  /** Shorter than the tokens and tag its place in the handshake requires. */
  | { readonly code: 'NOISE_TRUNCATED'; readonly lengthBytes: number; readonly minBytes: number }
  /** Longer than a Noise message may be (§3). */
  | { readonly code: 'NOISE_MESSAGE_TOO_LARGE'; readonly lengthBytes: number; readonly maxBytes: number }
  /** A low-order X25519 public key: no shared secret exists (§12.1 lets us signal an error). */
  | { readonly code: 'NOISE_BAD_KEY' }
  /** The CipherState has used every nonce its limit allows. */
  | { readonly code: 'NOISE_NONCE_EXHAUSTED' }
  /** A handshake message arrived when the pattern expects none from the peer. */
  | { readonly code: 'NOISE_UNEXPECTED_MESSAGE'; readonly status: HandshakeStatus }
  /** An earlier message failed: the handshake is dead (§5.3) and must be started again. */
  | { readonly code: 'NOISE_HANDSHAKE_FAILED' }
  /** A message in the direction a one-way pattern never uses (§7.4). */
  | { readonly code: 'NOISE_ONE_WAY' };

export type NoiseErrorCode = NoiseError['code'];
