import { UsageError } from '@postern/core';

/** Every bound of the Noise package, each with the reason for its value. */

/** §3: a Noise message, handshake or transport, is at most 65535 bytes (a 16-bit length prefix). */
export const NOISE_MESSAGE_BYTES_MAX = 65_535;

/** §4.2: ChaChaPoly appends a 16-byte Poly1305 tag. */
export const TAG_BYTES = 16;

/** §4.1: DHLEN for 25519; also the length of every key and of a psk (§9.1). */
export const DH_BYTES = 32;
export const KEY_BYTES = 32;
export const PSK_BYTES = 32;

/** The largest transport plaintext: one message less the tag. */
export const PLAINTEXT_BYTES_MAX = NOISE_MESSAGE_BYTES_MAX - TAG_BYTES;

export interface NoiseLimits {
  /**
   * Messages one transport CipherState may encrypt or decrypt before it refuses
   * ('NOISE_NONCE_EXHAUSTED'). The nonce is not reset by rekey (§5.1), so this bounds a direction's
   * whole life. Noise allows 2^64 − 1 nonces (§5.1); JS numbers count exactly only to 2^53 − 1, so
   * that is the default and the ceiling. Lower it to force a fresh handshake sooner (or in tests).
   */
  readonly messagesPerKeyMax: number;
}

export const DEFAULT_NOISE_LIMITS: NoiseLimits = { messagesPerKeyMax: Number.MAX_SAFE_INTEGER };

export function resolveNoiseLimits(limits: Partial<NoiseLimits> | undefined): NoiseLimits {
  const resolved = { ...DEFAULT_NOISE_LIMITS, ...limits };
  const value = resolved.messagesPerKeyMax;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(
      'NOISE_BAD_LIMIT',
      `messagesPerKeyMax must be an integer from 0 to 2^53 − 1, got ${value}`,
    );
  }
  return resolved;
}
