// Wycheproof (C2SP) ChaCha20-Poly1305: every test of every group (see wycheproof-aead.ts).
import { describe } from 'node:test';
import { KeyBytes } from '../src/index.ts';
import { bothProviders } from './helpers.ts';
import { itRunsWycheproofAead } from './wycheproof-aead.ts';

for (const provider of bothProviders()) {
  describe(`Wycheproof ChaCha20-Poly1305 on ${provider.name}`, () => {
    itRunsWycheproofAead(
      'chacha20_poly1305_test.json',
      {
        nonceBytes: KeyBytes.chachaNonce,
        encrypt: (p, key, nonce, plaintext, ad) => p.chacha20poly1305Encrypt(key, nonce, plaintext, ad),
        decrypt: (p, key, nonce, ciphertext, ad) => p.chacha20poly1305Decrypt(key, nonce, ciphertext, ad),
      },
      provider,
    );
    // The same vectors through the in-place calls the transport uses.
    itRunsWycheproofAead(
      'chacha20_poly1305_test.json',
      {
        nonceBytes: KeyBytes.chachaNonce,
        inPlace: true,
        encrypt: (p, key, nonce, plaintext, ad) => {
          const buffer = new Uint8Array(plaintext.length + KeyBytes.aeadTag);
          buffer.set(plaintext);
          p.chacha20poly1305EncryptInPlace(key, nonce, buffer, ad);
          return buffer;
        },
        decrypt: (p, key, nonce, ciphertext, ad) =>
          p.chacha20poly1305DecryptInPlace(key, nonce, ciphertext.slice(), ad),
      },
      provider,
    );
  });
}
