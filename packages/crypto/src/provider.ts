import type { Result } from '@postern/core';

/**
 * The crypto provider: every primitive Postern uses, behind one small interface so that the same
 * protocol code runs on sodium-native (Node, fast) and on @noble (pure JS, browsers). No primitive is
 * written by hand; both implementations pass the same vector tests and agree byte-for-byte on every
 * deterministic operation.
 *
 * Conventions:
 * - Lengths of keys, nonces and seeds are the caller's responsibility: a wrong length throws a
 *   UsageError with code 'CRYPTO_BAD_LENGTH'.
 * - Anything that may come from the network (a public key, a signature, a ciphertext) never throws:
 *   verify returns false, decrypt and DH return a Result.
 * - Randomness comes only from `randomBytes`, which a provider takes from its `RandomSource`; the
 *   simulator injects a seeded one so that a whole run is reproducible.
 */
export interface CryptoProvider {
  readonly name: ProviderName;

  randomBytes(length: number): Uint8Array;

  /** Ed25519 key pair from a 32-byte seed (RFC 8032 private key). */
  ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair;
  /**
   * Pure Ed25519 (RFC 8032 §5.1.6). `secretKey` is the 64-byte seed ‖ publicKey form; a public half
   * that does not belong to the seed throws (signing with a wrong public key leaks the secret key).
   */
  ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /**
   * Strict verification, as libsodium does it: rejects non-canonical S, non-canonical or small-order
   * public keys and small-order R. Malformed lengths give false.
   */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;

  /** X25519 public key for a 32-byte secret scalar (clamped as RFC 7748 says). */
  x25519PublicKey(secretKey: Uint8Array): Uint8Array;
  /** X25519 shared secret; an all-zero result (a low-order peer key) is an error, never a key. */
  x25519(secretKey: Uint8Array, publicKey: Uint8Array): Result<Uint8Array, CryptoError>;

  /** ChaCha20-Poly1305 (RFC 8439): 32-byte key, 12-byte nonce; returns ciphertext ‖ 16-byte tag. */
  chacha20poly1305Encrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Uint8Array;
  chacha20poly1305Decrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad: Uint8Array,
  ): Result<Uint8Array, CryptoError>;
  /**
   * ChaCha20-Poly1305 in place, for the transport's records: `buffer` holds the plaintext then 16
   * spare bytes; afterwards it holds ciphertext ‖ tag. No buffer is allocated. A buffer shorter than
   * the tag throws a UsageError with code 'CRYPTO_BAD_LENGTH'.
   */
  chacha20poly1305EncryptInPlace(
    key: Uint8Array,
    nonce: Uint8Array,
    buffer: Uint8Array,
    ad: Uint8Array,
  ): void;
  /**
   * In place: `buffer` holds ciphertext ‖ tag; on success the plaintext is its first length − 16
   * bytes, returned as a view of it. On failure its contents are unspecified (libsodium zeroes them).
   */
  chacha20poly1305DecryptInPlace(
    key: Uint8Array,
    nonce: Uint8Array,
    buffer: Uint8Array,
    ad: Uint8Array,
  ): Result<Uint8Array, CryptoError>;
  /** XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): 32-byte key, 24-byte nonce. */
  xchacha20poly1305Encrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Uint8Array;
  xchacha20poly1305Decrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad: Uint8Array,
  ): Result<Uint8Array, CryptoError>;

  /** BLAKE2b (RFC 7693) with 1..64 output bytes and an optional key of 1..64 bytes (libsodium generichash). */
  blake2b(message: Uint8Array, outLength?: number, key?: Uint8Array): Uint8Array;
  /** A fixed hash by name: SHA-256, SHA-512 or BLAKE2b-512 (Noise's hash functions). */
  hash(name: HashName, message: Uint8Array): Uint8Array;
  sha256(message: Uint8Array): Uint8Array;
  /** HMAC (RFC 2104) over the named hash; any key length. */
  hmac(name: HashName, key: Uint8Array, message: Uint8Array): Uint8Array;
  /**
   * HKDF (RFC 5869) over the named hash; 0 to 255 × hash length bytes, and an `info` of at most
   * `CryptoLimits.hkdfInfoBytesMax` bytes.
   */
  hkdf(name: HashName, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  /**
   * libsodium's sealed box (crypto_box_seal): anonymous encryption to an X25519 public key. The
   * ephemeral key is drawn from `randomBytes`, so the output is reproducible under a seeded source.
   * A low-order recipient key, for which no shared secret exists, throws a UsageError with code
   * 'CRYPTO_X25519_LOW_ORDER': a recipient key taken from the network is validated where it arrives.
   */
  sealBox(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array;
  sealBoxOpen(
    ciphertext: Uint8Array,
    recipientPublicKey: Uint8Array,
    recipientSecretKey: Uint8Array,
  ): Result<Uint8Array, CryptoError>;

  /** Comparison of secrets (MACs, keys) in time independent of where they differ. */
  constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

export type ProviderName = 'sodium-native' | 'noble';
export type HashName = 'sha256' | 'sha512' | 'blake2b512';

export interface Ed25519KeyPair {
  /** 32 bytes. */
  readonly publicKey: Uint8Array;
  /** 64 bytes: seed ‖ publicKey (libsodium's layout). */
  readonly secretKey: Uint8Array;
}

/** Where a provider's randomness comes from: the OS CSPRNG by default, a seeded stream in the simulator. */
export type RandomSource = (length: number) => Uint8Array;

export interface ProviderOptions {
  readonly random?: RandomSource;
}

export type CryptoError =
  { code: 'CRYPTO_AEAD_FAILED' } | { code: 'CRYPTO_X25519_LOW_ORDER' } | { code: 'CRYPTO_SEALED_BOX_FAILED' };

export const KeyBytes = {
  ed25519Public: 32,
  ed25519Secret: 64,
  ed25519Seed: 32,
  ed25519Signature: 64,
  x25519: 32,
  aeadKey: 32,
  aeadTag: 16,
  chachaNonce: 12,
  xchachaNonce: 24,
  sealBoxOverhead: 48,
} as const;

export const CryptoLimits = {
  /** OpenSSL, under node:crypto's hkdfSync, refuses a longer HKDF info; both providers keep to it. */
  hkdfInfoBytesMax: 1024,
} as const;
