// Argument checks shared by both providers, so that a misuse throws the same UsageError whichever
// provider runs, before any library sees the input (the libraries' own errors differ).
import { bytesEqual, UsageError } from '@postern/core';
import { CryptoLimits, KeyBytes, type HashName, type RandomSource } from './provider.ts';

/** Output length of each named hash, in bytes. */
export const hashBytes: Readonly<Record<HashName, number>> = { sha256: 32, sha512: 64, blake2b512: 64 };

export const blake2bBytes = { outMin: 1, outMax: 64, outDefault: 32, keyMin: 1, keyMax: 64 } as const;

export function requireLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new UsageError('CRYPTO_BAD_LENGTH', `${what} must be ${length} bytes, got ${bytes.length}`);
  }
}

export function requireInteger(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError('CRYPTO_BAD_LENGTH', `${what} must be an integer in ${min}..${max}, got ${value}`);
  }
}

export function requireHashName(name: HashName): number {
  const length = Object.hasOwn(hashBytes, name) ? hashBytes[name] : undefined;
  if (length === undefined) {
    throw new UsageError('CRYPTO_BAD_HASH_NAME', `unknown hash name: ${String(name)}`);
  }
  return length;
}

export function checkBlake2b(outLength: number, key: Uint8Array | undefined): void {
  requireInteger(outLength, blake2bBytes.outMin, blake2bBytes.outMax, 'BLAKE2b output length');
  if (key !== undefined) {
    requireInteger(key.length, blake2bBytes.keyMin, blake2bBytes.keyMax, 'BLAKE2b key length');
  }
}

export function checkHkdf(name: HashName, info: Uint8Array, length: number): void {
  const hashLength = requireHashName(name);
  requireInteger(length, 0, 255 * hashLength, 'HKDF output length');
  requireInteger(info.length, 0, CryptoLimits.hkdfInfoBytesMax, 'HKDF info length');
}

export function checkAead(key: Uint8Array, nonce: Uint8Array, nonceLength: number): void {
  requireLength(key, KeyBytes.aeadKey, 'AEAD key');
  requireLength(nonce, nonceLength, 'AEAD nonce');
}

/** An in-place AEAD buffer must at least have room for the tag. */
export function requireInPlaceRoom(buffer: Uint8Array): void {
  if (buffer.length < KeyBytes.aeadTag) {
    throw new UsageError(
      'CRYPTO_BAD_LENGTH',
      `an in-place AEAD buffer holds the plaintext and ${KeyBytes.aeadTag} bytes for the tag, got ${buffer.length} bytes`,
    );
  }
}

/** Wraps a RandomSource so that a source returning the wrong length is caught where it happens. */
export function checkedRandom(random: RandomSource): (length: number) => Uint8Array {
  return (length) => {
    requireInteger(length, 0, Number.MAX_SAFE_INTEGER, 'random byte count');
    const bytes = random(length);
    if (bytes.length !== length) {
      throw new UsageError(
        'CRYPTO_BAD_RANDOM_SOURCE',
        `random source gave ${bytes.length} bytes for ${length}`,
      );
    }
    return bytes;
  };
}

/**
 * Throws unless a 64-byte Ed25519 secret key's public half belongs to its seed: libsodium signs with
 * the public half as given, and signing with a wrong one leaks the key. The check costs a key
 * derivation, so a key that passed is remembered (per buffer, compared by content on each use, so a
 * mutated buffer is checked again); the WeakMap forgets keys that are no longer referenced.
 */
export function createSecretKeyCheck(
  derivePublic: (seed: Uint8Array) => Uint8Array,
): (secretKey: Uint8Array) => void {
  const checked = new WeakMap<Uint8Array, Uint8Array>();
  return (secretKey) => {
    requireLength(secretKey, KeyBytes.ed25519Secret, 'Ed25519 secret key');
    const known = checked.get(secretKey);
    if (known !== undefined && bytesEqual(known, secretKey)) return;
    const publicKey = derivePublic(secretKey.subarray(0, KeyBytes.ed25519Seed));
    if (!bytesEqual(secretKey.subarray(KeyBytes.ed25519Seed), publicKey)) {
      throw new UsageError(
        'CRYPTO_BAD_SECRET_KEY',
        'the public half of the Ed25519 secret key does not match its seed',
      );
    }
    checked.set(secretKey, secretKey.slice());
  };
}

/** crypto_box's nonce: in a sealed box, BLAKE2b-192(ephemeral public key ‖ recipient public key). */
export const sealBoxNonceBytes = 24;

/** What sealBox throws when the recipient key is low-order (no shared secret exists). */
export function lowOrderRecipient(cause: unknown): UsageError {
  return new UsageError('CRYPTO_X25519_LOW_ORDER', 'the sealed box recipient public key is low-order', {
    cause,
  });
}
