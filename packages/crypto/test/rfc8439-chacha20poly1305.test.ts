// RFC 8439 §2.8.2: the ChaCha20-Poly1305 AEAD example, copied from the RFC text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concatBytes, unwrap, utf8 } from '@postern/core';
import { bothProviders, hex, VectorCount } from './helpers.ts';

const plaintext = utf8(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const ad = hex('50515253c0c1c2c3c4c5c6c7');
const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
// The 32-bit constant 07 00 00 00 followed by the 64-bit IV 40 41 42 43 44 45 46 47.
const nonce = hex('070000004041424344454647');
const ciphertext = hex(`
  d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
  3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
  92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
  3ff4def08e4b7a9de576d26586cec64b6116`);
const tag = hex('1ae10b594f09e26a7e902ecbd0600691');
const sealed = concatBytes(ciphertext, tag);

for (const provider of bothProviders()) {
  describe(`RFC 8439 §2.8.2 ChaCha20-Poly1305 on ${provider.name}`, () => {
    it('encrypts to the exact ciphertext and tag, and decrypts them back', () => {
      const count = new VectorCount();
      assert.equal(plaintext.length, 114);
      assert.deepEqual(provider.chacha20poly1305Encrypt(key, nonce, plaintext, ad), sealed);
      assert.deepEqual(unwrap(provider.chacha20poly1305Decrypt(key, nonce, sealed, ad)), plaintext);
      count.add('valid');
      count.report('RFC 8439 §2.8.2', provider, 1);
    });

    it('refuses the ciphertext when a byte of the ciphertext, tag, AD or nonce changes', () => {
      const flip = (bytes: Uint8Array, i: number): Uint8Array =>
        bytes.map((b, j) => (j === i ? b ^ 0x80 : b));
      const failed = { ok: false, error: { code: 'CRYPTO_AEAD_FAILED' } };
      for (const i of [0, 57, ciphertext.length - 1, ciphertext.length, sealed.length - 1]) {
        assert.deepEqual(
          provider.chacha20poly1305Decrypt(key, nonce, flip(sealed, i), ad),
          failed,
          `byte ${i}`,
        );
      }
      assert.deepEqual(provider.chacha20poly1305Decrypt(key, nonce, sealed, flip(ad, 3)), failed);
      assert.deepEqual(provider.chacha20poly1305Decrypt(key, flip(nonce, 11), sealed, ad), failed);
      assert.deepEqual(provider.chacha20poly1305Decrypt(key, nonce, sealed.subarray(1), ad), failed);
    });
  });
}
