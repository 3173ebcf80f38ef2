// The CryptoProvider on libsodium (sodium-native), for Node. libsodium has no HMAC-SHA-256/512 or
// HKDF, so those two come from node:crypto (OpenSSL). This is the one file of the package that may
// import native code and node:* modules (see eslint.config.js).
import { createHmac, hkdfSync } from 'node:crypto';
import sodium from 'sodium-native';
import { concatBytes, err, ok, type Result } from '@postern/core';
import {
  blake2bBytes,
  checkAead,
  checkBlake2b,
  checkHkdf,
  checkedRandom,
  lowOrderRecipient,
  requireHashName,
  requireInPlaceRoom,
  requireLength,
  createSecretKeyCheck,
  sealBoxNonceBytes,
} from './checks.ts';
import {
  KeyBytes,
  type CryptoError,
  type CryptoProvider,
  type Ed25519KeyPair,
  type HashName,
  type ProviderOptions,
} from './provider.ts';

type Aead = 'chacha20poly1305' | 'xchacha20poly1305';
/** sodium-native's one-shot BLAKE2b takes outputs and keys of at least this many bytes. */
const ONE_SHOT_BYTES_MIN = 16;

export function createSodiumProvider(options: ProviderOptions = {}): CryptoProvider {
  const randomBytes = checkedRandom(options.random ?? osRandom);
  return {
    name: 'sodium-native',
    randomBytes,
    ed25519KeyPairFromSeed,
    ed25519Sign,
    ed25519Verify,
    x25519PublicKey,
    x25519,
    chacha20poly1305Encrypt: (key, nonce, plaintext, ad) =>
      aeadEncrypt('chacha20poly1305', key, nonce, plaintext, ad),
    chacha20poly1305Decrypt: (key, nonce, ciphertext, ad) =>
      aeadDecrypt('chacha20poly1305', key, nonce, ciphertext, ad),
    chacha20poly1305EncryptInPlace,
    chacha20poly1305DecryptInPlace,
    xchacha20poly1305Encrypt: (key, nonce, plaintext, ad) =>
      aeadEncrypt('xchacha20poly1305', key, nonce, plaintext, ad),
    xchacha20poly1305Decrypt: (key, nonce, ciphertext, ad) =>
      aeadDecrypt('xchacha20poly1305', key, nonce, ciphertext, ad),
    blake2b,
    hash,
    sha256: (message) => hash('sha256', message),
    hmac,
    hkdf,
    sealBox: (message, recipientPublicKey) => sealBox(randomBytes, message, recipientPublicKey),
    sealBoxOpen,
    constantTimeEqual,
  };
}

/**
 * Small requests (keys, nonces: a handful per handshake) are served from a pool filled 4 KiB at a
 * time, since each fill is a system call; served bytes are wiped from the pool. Large ones go
 * straight to the OS.
 */
const RANDOM_POOL_BYTES = 4096;
const RANDOM_POOLED_MAX = 64;
const randomPool = new Uint8Array(RANDOM_POOL_BYTES);
let randomPoolUsed = RANDOM_POOL_BYTES;

function osRandom(length: number): Uint8Array {
  const out = new Uint8Array(length);
  if (length > RANDOM_POOLED_MAX) {
    sodium.randombytes_buf(out);
    return out;
  }
  if (randomPoolUsed + length > RANDOM_POOL_BYTES) {
    sodium.randombytes_buf(randomPool);
    randomPoolUsed = 0;
  }
  const taken = randomPool.subarray(randomPoolUsed, randomPoolUsed + length);
  out.set(taken);
  taken.fill(0);
  randomPoolUsed += length;
  return out;
}

function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  requireLength(seed, KeyBytes.ed25519Seed, 'Ed25519 seed');
  const publicKey = new Uint8Array(KeyBytes.ed25519Public);
  const secretKey = new Uint8Array(KeyBytes.ed25519Secret);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
  return { publicKey, secretKey };
}

const checkSecretKey = createSecretKeyCheck((seed) => ed25519KeyPairFromSeed(seed).publicKey);

function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  checkSecretKey(secretKey);
  const signature = new Uint8Array(KeyBytes.ed25519Signature);
  sodium.crypto_sign_detached(signature, message, secretKey);
  return signature;
}

function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== KeyBytes.ed25519Public || signature.length !== KeyBytes.ed25519Signature) {
    return false;
  }
  return sodium.crypto_sign_verify_detached(signature, message, publicKey);
}

function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  requireLength(secretKey, KeyBytes.x25519, 'X25519 secret key');
  const publicKey = new Uint8Array(KeyBytes.x25519);
  sodium.crypto_scalarmult_base(publicKey, secretKey);
  return publicKey;
}

function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Result<Uint8Array, CryptoError> {
  requireLength(secretKey, KeyBytes.x25519, 'X25519 secret key');
  requireLength(publicKey, KeyBytes.x25519, 'X25519 public key');
  const shared = new Uint8Array(KeyBytes.x25519);
  try {
    sodium.crypto_scalarmult(shared, secretKey, publicKey);
  } catch {
    // Lengths are checked above: libsodium's only failure left is a low-order key (all-zero result).
    return err({ code: 'CRYPTO_X25519_LOW_ORDER' });
  }
  return ok(shared);
}

function aeadEncrypt(
  aead: Aead,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  checkAead(key, nonce, aead === 'chacha20poly1305' ? KeyBytes.chachaNonce : KeyBytes.xchachaNonce);
  const ciphertext = new Uint8Array(plaintext.length + KeyBytes.aeadTag);
  if (aead === 'chacha20poly1305') {
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(ciphertext, plaintext, ad, null, nonce, key);
  } else {
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(ciphertext, plaintext, ad, null, nonce, key);
  }
  return ciphertext;
}

function aeadDecrypt(
  aead: Aead,
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
): Result<Uint8Array, CryptoError> {
  checkAead(key, nonce, aead === 'chacha20poly1305' ? KeyBytes.chachaNonce : KeyBytes.xchachaNonce);
  if (ciphertext.length < KeyBytes.aeadTag) return err({ code: 'CRYPTO_AEAD_FAILED' });
  const plaintext = new Uint8Array(ciphertext.length - KeyBytes.aeadTag);
  try {
    if (aead === 'chacha20poly1305') {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, null, ciphertext, ad, nonce, key);
    } else {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext, null, ciphertext, ad, nonce, key);
    }
  } catch {
    return err({ code: 'CRYPTO_AEAD_FAILED' });
  }
  return ok(plaintext);
}

function chacha20poly1305EncryptInPlace(
  key: Uint8Array,
  nonce: Uint8Array,
  buffer: Uint8Array,
  ad: Uint8Array,
): void {
  checkAead(key, nonce, KeyBytes.chachaNonce);
  requireInPlaceRoom(buffer);
  // libsodium allows the ciphertext to start where the message does.
  const plaintext = buffer.subarray(0, buffer.length - KeyBytes.aeadTag);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(buffer, plaintext, ad, null, nonce, key);
}

function chacha20poly1305DecryptInPlace(
  key: Uint8Array,
  nonce: Uint8Array,
  buffer: Uint8Array,
  ad: Uint8Array,
): Result<Uint8Array, CryptoError> {
  checkAead(key, nonce, KeyBytes.chachaNonce);
  if (buffer.length < KeyBytes.aeadTag) return err({ code: 'CRYPTO_AEAD_FAILED' });
  const plaintext = buffer.subarray(0, buffer.length - KeyBytes.aeadTag);
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, null, buffer, ad, nonce, key);
  } catch {
    return err({ code: 'CRYPTO_AEAD_FAILED' });
  }
  return ok(plaintext);
}

function blake2b(
  message: Uint8Array,
  outLength: number = blake2bBytes.outDefault,
  key?: Uint8Array,
): Uint8Array {
  checkBlake2b(outLength, key);
  const out = new Uint8Array(outLength);
  if (outLength >= ONE_SHOT_BYTES_MIN && (key === undefined || key.length >= ONE_SHOT_BYTES_MIN)) {
    sodium.crypto_generichash(out, message, key);
    return out;
  }
  // sodium-native's one-shot wrapper refuses outputs and keys under 16 bytes that libsodium itself
  // accepts: those take the streaming API (three calls instead of one).
  const state = new Uint8Array(sodium.crypto_generichash_STATEBYTES);
  sodium.crypto_generichash_init(state, key ?? null, outLength);
  sodium.crypto_generichash_update(state, message);
  sodium.crypto_generichash_final(state, out);
  return out;
}

function hash(name: HashName, message: Uint8Array): Uint8Array {
  const out = new Uint8Array(requireHashName(name));
  if (name === 'sha256') sodium.crypto_hash_sha256(out, message);
  else if (name === 'sha512') sodium.crypto_hash_sha512(out, message);
  else return blake2b(message, out.length);
  return out;
}

function hmac(name: HashName, key: Uint8Array, message: Uint8Array): Uint8Array {
  requireHashName(name); // HashName values are node:crypto's names ('blake2b512': unkeyed, 64 bytes)
  if (name === 'blake2b512') return hmacBlake2b(key, message);
  // Copied out of the Buffer so callers get a plain Uint8Array that owns its memory.
  return new Uint8Array(createHmac(name, key).update(message).digest());
}

/**
 * RFC 2104 HMAC over libsodium's BLAKE2b-512 (128-byte blocks): H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)).
 * Noise runs twelve per handshake side, and node:crypto's Hmac object costs more to create and
 * collect than both hashes: each hash here is one native call over a reused buffer. Checked
 * against the noble provider's HMAC (cross-provider tests) and by the BLAKE2b cacophony vectors.
 */
const HMAC_BLOCK_BYTES = 128;
const HMAC_OUT_BYTES = 64;
const hmacScratch = new Uint8Array(HMAC_BLOCK_BYTES + 1024);

function hmacBlake2b(key: Uint8Array, message: Uint8Array): Uint8Array {
  const blockKey = key.length > HMAC_BLOCK_BYTES ? blake2b(key, HMAC_OUT_BYTES) : key;
  const inner = new Uint8Array(HMAC_OUT_BYTES);
  const out = new Uint8Array(HMAC_OUT_BYTES);
  hashPadded(inner, blockKey, 0x36, message);
  hashPadded(out, blockKey, 0x5c, inner);
  // No key material left behind: the pads in the scratch buffer, the inner hash, a hashed long key.
  hmacScratch.fill(0);
  inner.fill(0);
  if (blockKey !== key) blockKey.fill(0);
  return out;
}

/** out = BLAKE2b-512((key zero-padded to a block) ⊕ pad ‖ data). */
function hashPadded(out: Uint8Array, key: Uint8Array, pad: number, data: Uint8Array): void {
  const block = hmacScratch.subarray(0, HMAC_BLOCK_BYTES);
  block.fill(pad);
  for (let i = 0; i < key.length; i++) block[i] = (key[i] as number) ^ pad;
  if (data.length > hmacScratch.length - HMAC_BLOCK_BYTES) {
    sodium.crypto_generichash_batch(out, [block, data]);
    return;
  }
  hmacScratch.set(data, HMAC_BLOCK_BYTES);
  sodium.crypto_generichash(out, hmacScratch.subarray(0, HMAC_BLOCK_BYTES + data.length));
}

function hkdf(
  name: HashName,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  checkHkdf(name, info, length);
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(hkdfSync(name, ikm, salt, info, length));
}

/**
 * libsodium's crypto_box_seal, with the ephemeral secret drawn from the provider's randomness as
 * crypto_box_keypair draws it (32 random bytes), so the noble provider can repeat it byte for byte.
 */
function sealBox(
  randomBytes: (length: number) => Uint8Array,
  message: Uint8Array,
  recipientPublicKey: Uint8Array,
): Uint8Array {
  requireLength(recipientPublicKey, KeyBytes.x25519, 'sealed box recipient public key');
  const ephemeralSecret = randomBytes(KeyBytes.x25519);
  const ephemeralPublic = x25519PublicKey(ephemeralSecret);
  const nonce = blake2b(concatBytes(ephemeralPublic, recipientPublicKey), sealBoxNonceBytes);
  const out = new Uint8Array(KeyBytes.sealBoxOverhead + message.length);
  out.set(ephemeralPublic);
  try {
    sodium.crypto_box_easy(
      out.subarray(KeyBytes.x25519),
      message,
      nonce,
      recipientPublicKey,
      ephemeralSecret,
    );
  } catch (cause) {
    throw lowOrderRecipient(cause);
  }
  return out;
}

function sealBoxOpen(
  ciphertext: Uint8Array,
  recipientPublicKey: Uint8Array,
  recipientSecretKey: Uint8Array,
): Result<Uint8Array, CryptoError> {
  requireLength(recipientPublicKey, KeyBytes.x25519, 'sealed box recipient public key');
  requireLength(recipientSecretKey, KeyBytes.x25519, 'sealed box recipient secret key');
  if (ciphertext.length < KeyBytes.sealBoxOverhead) return err({ code: 'CRYPTO_SEALED_BOX_FAILED' });
  const message = new Uint8Array(ciphertext.length - KeyBytes.sealBoxOverhead);
  const opened = sodium.crypto_box_seal_open(message, ciphertext, recipientPublicKey, recipientSecretKey);
  return opened ? ok(message) : err({ code: 'CRYPTO_SEALED_BOX_FAILED' });
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  // Lengths are public (a MAC or key has a fixed size); only the contents are compared in constant time.
  return a.length === b.length && sodium.sodium_memcmp(a, b);
}
