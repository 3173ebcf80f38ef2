// Wycheproof (C2SP) XChaCha20-Poly1305: every test of every group (see wycheproof-aead.ts).
import { describe } from 'node:test';
import { KeyBytes } from '../src/index.ts';
import { bothProviders } from './helpers.ts';
import { itRunsWycheproofAead } from './wycheproof-aead.ts';

for (const provider of bothProviders()) {
  describe(`Wycheproof XChaCha20-Poly1305 on ${provider.name}`, () => {
    itRunsWycheproofAead(
      'xchacha20_poly1305_test.json',
      {
        nonceBytes: KeyBytes.xchachaNonce,
        encrypt: (p, key, nonce, plaintext, ad) => p.xchacha20poly1305Encrypt(key, nonce, plaintext, ad),
        decrypt: (p, key, nonce, ciphertext, ad) => p.xchacha20poly1305Decrypt(key, nonce, ciphertext, ad),
      },
      provider,
    );
  });
}
