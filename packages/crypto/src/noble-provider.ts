// The CryptoProvider on the audited pure-JS @noble libraries: for browsers and anywhere a native
// addon cannot load. It gives the same bytes and the same accept/reject answers as the sodium
// provider; where noble's defaults differ from libsodium the extra checks below say why.
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { equalBytes, u32, u8 } from '@noble/ciphers/utils.js';
import { ed25519 as ed, x25519 as x } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
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

const hashFunction = {
  sha256,
  sha512,
  blake2b512: nobleBlake2b, // 64 bytes by default: unkeyed BLAKE2b-512
} as const;

export function createNobleProvider(options: ProviderOptions = {}): CryptoProvider {
  const randomBytes = checkedRandom(options.random ?? nobleRandomBytes);
  return {
    name: 'noble',
    randomBytes,
    ed25519KeyPairFromSeed,
    ed25519Sign,
    ed25519Verify,
    x25519PublicKey,
    x25519,
    chacha20poly1305Encrypt: (key, nonce, plaintext, ad) => {
      checkAead(key, nonce, KeyBytes.chachaNonce);
      return chacha20poly1305(key, nonce, ad).encrypt(plaintext);
    },
    chacha20poly1305Decrypt: (key, nonce, ciphertext, ad) => {
      checkAead(key, nonce, KeyBytes.chachaNonce);
      return aeadOpen(() => chacha20poly1305(key, nonce, ad).decrypt(ciphertext));
    },
    chacha20poly1305EncryptInPlace: (key, nonce, buffer, ad) => {
      checkAead(key, nonce, KeyBytes.chachaNonce);
      requireInPlaceRoom(buffer);
      // noble copies the plaintext to the output's start first: the same place, so nothing moves.
      chacha20poly1305(key, nonce, ad).encrypt(buffer.subarray(0, buffer.length - KeyBytes.aeadTag), buffer);
    },
    chacha20poly1305DecryptInPlace: (key, nonce, buffer, ad) => {
      checkAead(key, nonce, KeyBytes.chachaNonce);
      if (buffer.length < KeyBytes.aeadTag) return err({ code: 'CRYPTO_AEAD_FAILED' });
      const plaintext = buffer.subarray(0, buffer.length - KeyBytes.aeadTag);
      return aeadOpen(() => chacha20poly1305(key, nonce, ad).decrypt(buffer, plaintext));
    },
    xchacha20poly1305Encrypt: (key, nonce, plaintext, ad) => {
      checkAead(key, nonce, KeyBytes.xchachaNonce);
      return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
    },
    xchacha20poly1305Decrypt: (key, nonce, ciphertext, ad) => {
      checkAead(key, nonce, KeyBytes.xchachaNonce);
      return aeadOpen(() => xchacha20poly1305(key, nonce, ad).decrypt(ciphertext));
    },
    blake2b,
    hash,
    sha256: (message) => sha256(message),
    hmac: (name, key, message) => {
      requireHashName(name);
      return nobleHmac(hashFunction[name], key, message);
    },
    hkdf: (name, ikm, salt, info, length) => {
      checkHkdf(name, info, length);
      return length === 0 ? new Uint8Array(0) : nobleHkdf(hashFunction[name], ikm, salt, info, length);
    },
    sealBox: (message, recipientPublicKey) => sealBox(randomBytes, message, recipientPublicKey),
    sealBoxOpen,
    constantTimeEqual: (a, b) => a.length === b.length && equalBytes(a, b),
  };
}

function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  requireLength(seed, KeyBytes.ed25519Seed, 'Ed25519 seed');
  const publicKey = ed.getPublicKey(seed);
  return { publicKey, secretKey: concatBytes(seed, publicKey) };
}

const checkSecretKey = createSecretKeyCheck((seed) => ed.getPublicKey(seed));

function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  // noble derives the public key from the seed itself; the check keeps both providers' misuse rules equal.
  checkSecretKey(secretKey);
  return ed.sign(message, secretKey.subarray(0, KeyBytes.ed25519Seed));
}

/**
 * libsodium's crypto_sign_verify_detached, which is stricter than noble's default (ZIP-215):
 * - zip215: false rejects non-canonical encodings of A and R, and S >= L;
 * - libsodium refuses small-order A and small-order R;
 * - libsodium checks R = [S]B − [k]A exactly (cofactorless), noble's verify checks it times the
 *   cofactor 8, which also accepts R or A carrying a small-order component. Both must hold here.
 */
function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== KeyBytes.ed25519Public || signature.length !== KeyBytes.ed25519Signature) {
    return false;
  }
  try {
    const rBytes = signature.subarray(0, 32);
    const a = ed.Point.fromBytes(publicKey, false);
    const r = ed.Point.fromBytes(rBytes, false);
    if (a.isSmallOrder() || r.isSmallOrder()) return false;
    if (!ed.verify(signature, message, publicKey, { zip215: false })) return false;
    const s = bytesToNumberLE(signature.subarray(32));
    const k = ed.Point.Fn.create(bytesToNumberLE(sha512(concatBytes(rBytes, publicKey, message))));
    return ed.Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k)).equals(r);
  } catch {
    return false; // undecodable point or out-of-range scalar
  }
}

function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  requireLength(secretKey, KeyBytes.x25519, 'X25519 secret key');
  return x.getPublicKey(secretKey);
}

function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Result<Uint8Array, CryptoError> {
  requireLength(secretKey, KeyBytes.x25519, 'X25519 secret key');
  requireLength(publicKey, KeyBytes.x25519, 'X25519 public key');
  try {
    return ok(x.getSharedSecret(secretKey, publicKey));
  } catch {
    // Lengths are checked above: noble throws only for a low-order key, as libsodium refuses it.
    return err({ code: 'CRYPTO_X25519_LOW_ORDER' });
  }
}

function aeadOpen(decrypt: () => Uint8Array): Result<Uint8Array, CryptoError> {
  try {
    return ok(decrypt());
  } catch {
    return err({ code: 'CRYPTO_AEAD_FAILED' }); // a bad tag, or a ciphertext shorter than the tag
  }
}

function blake2b(
  message: Uint8Array,
  outLength: number = blake2bBytes.outDefault,
  key?: Uint8Array,
): Uint8Array {
  checkBlake2b(outLength, key);
  return nobleBlake2b(message, key === undefined ? { dkLen: outLength } : { dkLen: outLength, key });
}

function hash(name: HashName, message: Uint8Array): Uint8Array {
  requireHashName(name);
  return hashFunction[name](message);
}

/** Salsa20's constant words, as HSalsa20 takes them. */
const sigma = new TextEncoder().encode('expand 32-byte k');

/** crypto_box's key: HSalsa20 of the X25519 shared secret with a zero input (crypto_box_beforenm). */
function boxKey(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const shared = x.getSharedSecret(secretKey, publicKey);
  const key = new Uint32Array(8);
  // Word views are little-endian here: noble's ciphers refuse to run on big-endian hosts anyway.
  hsalsa(u32(sigma), u32(shared), new Uint32Array(4), key);
  return u8(key);
}

/** libsodium's crypto_box_seal (see the sodium provider): epk ‖ XSalsa20-Poly1305 box (tag ‖ ciphertext). */
function sealBox(
  randomBytes: (length: number) => Uint8Array,
  message: Uint8Array,
  recipientPublicKey: Uint8Array,
): Uint8Array {
  requireLength(recipientPublicKey, KeyBytes.x25519, 'sealed box recipient public key');
  const ephemeralSecret = randomBytes(KeyBytes.x25519);
  const ephemeralPublic = x.getPublicKey(ephemeralSecret);
  let key: Uint8Array;
  try {
    key = boxKey(ephemeralSecret, recipientPublicKey);
  } catch (cause) {
    throw lowOrderRecipient(cause);
  }
  const nonce = sealBoxNonce(ephemeralPublic, recipientPublicKey);
  return concatBytes(ephemeralPublic, xsalsa20poly1305(key, nonce).encrypt(message));
}

function sealBoxOpen(
  ciphertext: Uint8Array,
  recipientPublicKey: Uint8Array,
  recipientSecretKey: Uint8Array,
): Result<Uint8Array, CryptoError> {
  requireLength(recipientPublicKey, KeyBytes.x25519, 'sealed box recipient public key');
  requireLength(recipientSecretKey, KeyBytes.x25519, 'sealed box recipient secret key');
  if (ciphertext.length < KeyBytes.sealBoxOverhead) return err({ code: 'CRYPTO_SEALED_BOX_FAILED' });
  const ephemeralPublic = ciphertext.subarray(0, KeyBytes.x25519);
  try {
    const key = boxKey(recipientSecretKey, ephemeralPublic);
    const nonce = sealBoxNonce(ephemeralPublic, recipientPublicKey);
    return ok(xsalsa20poly1305(key, nonce).decrypt(ciphertext.subarray(KeyBytes.x25519)));
  } catch {
    return err({ code: 'CRYPTO_SEALED_BOX_FAILED' }); // low-order ephemeral key or bad tag
  }
}

function sealBoxNonce(ephemeralPublic: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  return nobleBlake2b(concatBytes(ephemeralPublic, recipientPublicKey), { dkLen: sealBoxNonceBytes });
}
