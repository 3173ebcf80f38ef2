import { assert, concatBytes, err, ok, utf8, type Result } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { chachaNonce } from './cipher-state.ts';
import { KEY_BYTES } from './limits.ts';
import type { NoiseProtocol } from './protocol.ts';

/**
 * §4.3: Noise's HKDF, built from HMAC-HASH as the spec defines it (RFC 5869 with an empty info and
 * the chaining key as salt), returning 2 or 3 outputs of HASHLEN bytes.
 */
export function noiseHkdf(
  crypto: CryptoProvider,
  protocol: NoiseProtocol,
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  outputs: 2 | 3,
): Uint8Array[] {
  const tempKey = crypto.hmac(protocol.hash, chainingKey, inputKeyMaterial);
  const out = [crypto.hmac(protocol.hash, tempKey, Uint8Array.of(0x01))];
  for (let i = 2; i <= outputs; i++) {
    const previous = out[out.length - 1];
    assert(previous !== undefined, 'hkdf has a previous output');
    out.push(crypto.hmac(protocol.hash, tempKey, concatBytes(previous, Uint8Array.of(i))));
  }
  return out;
}

/**
 * The SymmetricState of §5.2 with its CipherState folded in: the chaining key ck, the handshake hash
 * h, and the handshake's own key k and nonce n (k is empty until the first MixKey: EncryptWithAd then
 * passes the plaintext through). Handshake messages use a handful of nonces per key, so no limit.
 */
export class SymmetricState {
  private readonly crypto: CryptoProvider;
  private readonly protocol: NoiseProtocol;
  private ck: Uint8Array;
  private h: Uint8Array;
  private k: Uint8Array | undefined;
  private n = 0;

  /** InitializeSymmetric: h = the name zero-padded to HASHLEN, or HASH(name) if longer; ck = h. */
  constructor(crypto: CryptoProvider, protocol: NoiseProtocol) {
    this.crypto = crypto;
    this.protocol = protocol;
    const name = utf8(protocol.name);
    if (name.length <= protocol.hashBytes) {
      this.h = new Uint8Array(protocol.hashBytes);
      this.h.set(name);
    } else {
      this.h = crypto.hash(protocol.hash, name);
    }
    this.ck = this.h.slice();
  }

  get hasKey(): boolean {
    return this.k !== undefined;
  }

  get handshakeHash(): Uint8Array {
    return this.h.slice();
  }

  mixHash(data: Uint8Array): void {
    this.h = this.crypto.hash(this.protocol.hash, concatBytes(this.h, data));
  }

  /** ck, temp_k = HKDF(ck, ikm, 2); k = temp_k cut to 32 bytes (HASHLEN 64 truncates), n = 0. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = noiseHkdf(this.crypto, this.protocol, this.ck, inputKeyMaterial, 2);
    assert(ck !== undefined && tempK !== undefined, 'hkdf gives two outputs');
    this.ck = ck;
    this.initializeKey(tempK);
  }

  /** §9.2 (psk): ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h); k = temp_k. */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, tempH, tempK] = noiseHkdf(this.crypto, this.protocol, this.ck, inputKeyMaterial, 3);
    assert(ck !== undefined && tempH !== undefined && tempK !== undefined, 'hkdf gives three outputs');
    this.ck = ck;
    this.mixHash(tempH);
    this.initializeKey(tempK);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    let ciphertext: Uint8Array = plaintext.slice();
    if (this.k !== undefined) {
      ciphertext = this.crypto.chacha20poly1305Encrypt(this.k, chachaNonce(this.n), plaintext, this.h);
      this.n += 1;
    }
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** Gives 'failed' when the tag does not verify; the handshake is then dead (§5.3). */
  decryptAndHash(ciphertext: Uint8Array): Result<Uint8Array, 'failed'> {
    let plaintext: Uint8Array = ciphertext.slice();
    if (this.k !== undefined) {
      const opened = this.crypto.chacha20poly1305Decrypt(this.k, chachaNonce(this.n), ciphertext, this.h);
      if (!opened.ok) return err('failed');
      plaintext = opened.value;
      this.n += 1;
    }
    this.mixHash(ciphertext);
    return ok(plaintext);
  }

  /** §5.2 Split: the two transport keys (initiator to responder first); ck is dropped. */
  split(): [Uint8Array, Uint8Array] {
    const [k1, k2] = noiseHkdf(this.crypto, this.protocol, this.ck, new Uint8Array(0), 2);
    assert(k1 !== undefined && k2 !== undefined, 'hkdf gives two outputs');
    this.ck = new Uint8Array(0);
    this.k = undefined;
    return [k1.slice(0, KEY_BYTES), k2.slice(0, KEY_BYTES)];
  }

  private initializeKey(key: Uint8Array): void {
    this.k = key.slice(0, KEY_BYTES);
    this.n = 0;
  }
}
