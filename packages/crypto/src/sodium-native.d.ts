// sodium-native ships no types: these are the functions Postern calls. Each writes into the output
// buffers it is given; the ones noted "throws" throw on a non-zero libsodium status.
declare module 'sodium-native' {
  interface SodiumNative {
    randombytes_buf(out: Uint8Array): void;
    sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean;

    crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void;
    crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
    crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;

    crypto_scalarmult_base(publicKey: Uint8Array, secretKey: Uint8Array): void;
    /** Throws when the result would be all zeros (a low-order peer key). */
    crypto_scalarmult(shared: Uint8Array, secretKey: Uint8Array, publicKey: Uint8Array): void;

    crypto_aead_chacha20poly1305_ietf_encrypt(
      ciphertext: Uint8Array,
      message: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      nonce: Uint8Array,
      key: Uint8Array,
    ): number;
    /** Throws when the tag does not verify. */
    crypto_aead_chacha20poly1305_ietf_decrypt(
      message: Uint8Array,
      nsec: null,
      ciphertext: Uint8Array,
      ad: Uint8Array | null,
      nonce: Uint8Array,
      key: Uint8Array,
    ): number;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      ciphertext: Uint8Array,
      message: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      nonce: Uint8Array,
      key: Uint8Array,
    ): number;
    /** Throws when the tag does not verify. */
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      message: Uint8Array,
      nsec: null,
      ciphertext: Uint8Array,
      ad: Uint8Array | null,
      nonce: Uint8Array,
      key: Uint8Array,
    ): number;

    crypto_generichash(out: Uint8Array, message: Uint8Array, key?: Uint8Array): void;
    crypto_generichash_batch(out: Uint8Array, batch: readonly Uint8Array[], key?: Uint8Array): void;
    crypto_generichash_STATEBYTES: number;
    crypto_generichash_init(state: Uint8Array, key: Uint8Array | null, outLength: number): void;
    crypto_generichash_update(state: Uint8Array, message: Uint8Array): void;
    crypto_generichash_final(state: Uint8Array, out: Uint8Array): void;
    crypto_hash_sha256(out: Uint8Array, message: Uint8Array): void;
    crypto_hash_sha512(out: Uint8Array, message: Uint8Array): void;

    /** Throws when the recipient key is low-order. */
    crypto_box_easy(
      ciphertext: Uint8Array,
      message: Uint8Array,
      nonce: Uint8Array,
      publicKey: Uint8Array,
      secretKey: Uint8Array,
    ): void;
    crypto_box_seal(ciphertext: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void;
    crypto_box_seal_open(
      message: Uint8Array,
      ciphertext: Uint8Array,
      publicKey: Uint8Array,
      secretKey: Uint8Array,
    ): boolean;
  }
  const sodium: SodiumNative;
  export default sodium;
}
