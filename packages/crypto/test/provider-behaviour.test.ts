// The provider conventions, on both providers: misuse throws a UsageError with a stable code, input
// that may come from the network never throws, and all randomness comes from the RandomSource.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { UsageError } from '@postern/core';
import { CryptoLimits, KeyBytes, type CryptoProvider } from '../src/index.ts';
import { arbitraryBytes, assertUsageError, bothProviders, seededRandom } from './helpers.ts';

const zeros = (n: number): Uint8Array => new Uint8Array(n);
const badLengths = (good: number): number[] => [0, good - 1, good + 1];

/** Every call that takes a fixed-length key, nonce or seed, with that argument's length replaced. */
function misuses(p: CryptoProvider): [string, (n: number) => unknown, number][] {
  const [k32, n12, n24, m] = [zeros(32), zeros(12), zeros(24), zeros(3)];
  return [
    ['ed25519KeyPairFromSeed seed', (n) => p.ed25519KeyPairFromSeed(zeros(n)), 32],
    ['ed25519Sign secret key', (n) => p.ed25519Sign(zeros(n), m), 64],
    ['x25519PublicKey secret key', (n) => p.x25519PublicKey(zeros(n)), 32],
    ['x25519 secret key', (n) => p.x25519(zeros(n), k32), 32],
    ['x25519 public key', (n) => p.x25519(k32, zeros(n)), 32],
    ['chacha20poly1305Encrypt key', (n) => p.chacha20poly1305Encrypt(zeros(n), n12, m, m), 32],
    ['chacha20poly1305Encrypt nonce', (n) => p.chacha20poly1305Encrypt(k32, zeros(n), m, m), 12],
    ['chacha20poly1305Decrypt key', (n) => p.chacha20poly1305Decrypt(zeros(n), n12, zeros(20), m), 32],
    ['chacha20poly1305Decrypt nonce', (n) => p.chacha20poly1305Decrypt(k32, zeros(n), zeros(20), m), 12],
    ['xchacha20poly1305Encrypt key', (n) => p.xchacha20poly1305Encrypt(zeros(n), n24, m, m), 32],
    ['xchacha20poly1305Encrypt nonce', (n) => p.xchacha20poly1305Encrypt(k32, zeros(n), m, m), 24],
    ['xchacha20poly1305Decrypt key', (n) => p.xchacha20poly1305Decrypt(zeros(n), n24, zeros(20), m), 32],
    ['xchacha20poly1305Decrypt nonce', (n) => p.xchacha20poly1305Decrypt(k32, zeros(n), zeros(20), m), 24],
    ['sealBox recipient key', (n) => p.sealBox(m, zeros(n)), 32],
    ['sealBoxOpen public key', (n) => p.sealBoxOpen(zeros(60), zeros(n), k32), 32],
    ['sealBoxOpen secret key', (n) => p.sealBoxOpen(zeros(60), k32, zeros(n)), 32],
  ];
}

function isError(result: { ok: boolean }): boolean {
  return !result.ok;
}

for (const provider of bothProviders()) {
  describe(`misuse on ${provider.name}`, () => {
    it('throws CRYPTO_BAD_LENGTH for every key, nonce and seed of the wrong length', () => {
      for (const [what, call, good] of misuses(provider)) {
        for (const n of badLengths(good)) {
          assert.throws(
            () => call(n),
            (e: unknown) => e instanceof UsageError && e.code === 'CRYPTO_BAD_LENGTH',
            `${what} of ${n}`,
          );
        }
      }
    });

    it('throws CRYPTO_BAD_LENGTH for BLAKE2b, HKDF and randomBytes lengths out of range', () => {
      const m = zeros(3);
      for (const n of [0, 65, 1.5, -1, Number.NaN])
        assertUsageError(() => provider.blake2b(m, n), 'CRYPTO_BAD_LENGTH');
      for (const n of [0, 65]) assertUsageError(() => provider.blake2b(m, 32, zeros(n)), 'CRYPTO_BAD_LENGTH');
      assertUsageError(() => provider.hkdf('sha256', m, m, m, 255 * 32 + 1), 'CRYPTO_BAD_LENGTH');
      assertUsageError(() => provider.hkdf('sha512', m, m, m, 255 * 64 + 1), 'CRYPTO_BAD_LENGTH');
      assertUsageError(() => provider.hkdf('sha256', m, m, m, -1), 'CRYPTO_BAD_LENGTH');
      assertUsageError(
        () => provider.hkdf('sha256', m, m, zeros(CryptoLimits.hkdfInfoBytesMax + 1), 32),
        'CRYPTO_BAD_LENGTH',
      );
      assert.equal(provider.hkdf('sha256', m, m, zeros(CryptoLimits.hkdfInfoBytesMax), 32).length, 32);
      assert.equal(provider.hkdf('blake2b512', m, m, m, 255 * 64).length, 255 * 64);
      assert.deepEqual(provider.hkdf('sha256', m, m, m, 0), zeros(0));
      assertUsageError(() => provider.randomBytes(-1), 'CRYPTO_BAD_LENGTH');
    });

    it('throws CRYPTO_BAD_HASH_NAME for a hash name outside the union', () => {
      const name = 'md5' as unknown as 'sha256';
      assertUsageError(() => provider.hash(name, zeros(1)), 'CRYPTO_BAD_HASH_NAME');
      assertUsageError(() => provider.hmac(name, zeros(1), zeros(1)), 'CRYPTO_BAD_HASH_NAME');
      assertUsageError(() => provider.hkdf(name, zeros(1), zeros(1), zeros(1), 1), 'CRYPTO_BAD_HASH_NAME');
    });

    it('refuses to sign with a secret key whose public half is not its own', () => {
      const { secretKey } = provider.ed25519KeyPairFromSeed(zeros(32));
      const other = provider.ed25519KeyPairFromSeed(new Uint8Array(32).fill(1)).publicKey;
      const forged = new Uint8Array([...secretKey.subarray(0, 32), ...other]);
      assertUsageError(() => provider.ed25519Sign(forged, zeros(3)), 'CRYPTO_BAD_SECRET_KEY');
    });

    it('checks a secret key again when its buffer was changed after a successful signature', () => {
      const { secretKey } = provider.ed25519KeyPairFromSeed(new Uint8Array(32).fill(2));
      provider.ed25519Sign(secretKey, zeros(3)); // remembered as checked
      secretKey[40] = (secretKey[40] as number) ^ 1;
      assertUsageError(() => provider.ed25519Sign(secretKey, zeros(3)), 'CRYPTO_BAD_SECRET_KEY');
    });

    it('throws CRYPTO_X25519_LOW_ORDER when sealing to a low-order key', () => {
      assertUsageError(() => provider.sealBox(zeros(3), zeros(32)), 'CRYPTO_X25519_LOW_ORDER');
    });
  });

  describe(`network input on ${provider.name}`, () => {
    it('answers false to a signature or public key of the wrong length', () => {
      const { secretKey, publicKey } = provider.ed25519KeyPairFromSeed(zeros(32));
      const signature = provider.ed25519Sign(secretKey, zeros(3));
      assert.equal(provider.ed25519Verify(publicKey, zeros(3), signature), true);
      for (const n of [0, 63, 65, 128]) {
        assert.equal(
          provider.ed25519Verify(publicKey, zeros(3), new Uint8Array([...signature, 0]).subarray(0, n)),
          false,
        );
      }
      for (const n of [0, 31, 33]) assert.equal(provider.ed25519Verify(zeros(n), zeros(3), signature), false);
    });

    it('gives an error, not an exception, for ciphertexts shorter than the tag or the sealed-box overhead', () => {
      for (let n = 0; n < KeyBytes.aeadTag; n++) {
        assert.deepEqual(provider.chacha20poly1305Decrypt(zeros(32), zeros(12), zeros(n), zeros(0)), {
          ok: false,
          error: { code: 'CRYPTO_AEAD_FAILED' },
        });
        assert.ok(isError(provider.xchacha20poly1305Decrypt(zeros(32), zeros(24), zeros(n), zeros(0))));
      }
      for (let n = 0; n < KeyBytes.sealBoxOverhead; n++) {
        assert.deepEqual(provider.sealBoxOpen(zeros(n), zeros(32), zeros(32)), {
          ok: false,
          error: { code: 'CRYPTO_SEALED_BOX_FAILED' },
        });
      }
    });

    it('gives CRYPTO_X25519_LOW_ORDER for an all-zero shared secret', () => {
      assert.deepEqual(provider.x25519(new Uint8Array(32).fill(1), zeros(32)), {
        ok: false,
        error: { code: 'CRYPTO_X25519_LOW_ORDER' },
      });
    });
  });

  describe(`random bytes as network input on ${provider.name}`, () => {
    // noble is pure JS and slower: fewer runs where a scalar multiplication is involved.
    const heavy = provider.name === 'sodium-native' ? 10_000 : 1_000;
    const light = 10_000;
    const arb = arbitraryBytes;
    const neverThrows = (f: () => unknown) => {
      assert.doesNotThrow(f);
    };

    it(`never throw from AEAD decryption (${light} runs each)`, () => {
      fc.assert(
        fc.property(arb(32, 32), arb(24, 24), arb(0, 200), arb(0, 50), (key, nonce, ciphertext, ad) => {
          const a = provider.chacha20poly1305Decrypt(key, nonce.subarray(0, 12), ciphertext, ad);
          const b = provider.xchacha20poly1305Decrypt(key, nonce, ciphertext, ad);
          assert.ok(isError(a) && isError(b));
        }),
        { numRuns: light },
      );
    });

    it(`never throw from sealBoxOpen (${heavy} runs)`, () => {
      fc.assert(
        fc.property(arb(0, 200), arb(32, 32), arb(32, 32), (ciphertext, publicKey, secretKey) => {
          assert.ok(isError(provider.sealBoxOpen(ciphertext, publicKey, secretKey)));
        }),
        { numRuns: heavy },
      );
    });

    it(`never throw from ed25519Verify or x25519 (${heavy / 2} runs each)`, () => {
      fc.assert(
        fc.property(
          arb(32, 32),
          arb(0, 100),
          fc.oneof(arb(64, 64), arb(0, 80)),
          (publicKey, message, signature) => {
            assert.equal(provider.ed25519Verify(publicKey, message, signature), false);
          },
        ),
        { numRuns: heavy / 2 },
      );
      fc.assert(
        fc.property(arb(32, 32), arb(32, 32), (secretKey, publicKey) =>
          neverThrows(() => provider.x25519(secretKey, publicKey)),
        ),
        { numRuns: heavy / 2 },
      );
    });
  });

  describe(`byte offsets on ${provider.name}`, () => {
    it('gives the same answers for inputs that are views at odd offsets into larger buffers', () => {
      const at = (bytes: Uint8Array): Uint8Array => {
        const buffer = new Uint8Array(bytes.length + 3);
        buffer.set(bytes, 1);
        return buffer.subarray(1, 1 + bytes.length);
      };
      const [seed, key, nonce, message] = [
        zeros(32).fill(5),
        zeros(32).fill(6),
        zeros(24).fill(7),
        zeros(37).fill(8),
      ];
      const { secretKey, publicKey } = provider.ed25519KeyPairFromSeed(seed);
      const signature = provider.ed25519Sign(secretKey, message);
      assert.deepEqual(provider.ed25519Sign(at(secretKey), at(message)), signature);
      assert.equal(provider.ed25519Verify(at(publicKey), at(message), at(signature)), true);
      const sealed = provider.xchacha20poly1305Encrypt(key, nonce, message, seed);
      assert.deepEqual(provider.xchacha20poly1305Encrypt(at(key), at(nonce), at(message), at(seed)), sealed);
      assert.deepEqual(provider.xchacha20poly1305Decrypt(at(key), at(nonce), at(sealed), at(seed)), {
        ok: true,
        value: message,
      });
      const chacha = provider.chacha20poly1305Encrypt(key, nonce.subarray(0, 12), message, seed);
      assert.deepEqual(
        provider.chacha20poly1305Decrypt(at(key), at(nonce.subarray(0, 12)), at(chacha), at(seed)),
        {
          ok: true,
          value: message,
        },
      );
      const recipient = provider.x25519PublicKey(key);
      assert.deepEqual(provider.x25519PublicKey(at(key)), recipient);
      assert.deepEqual(provider.x25519(at(seed), at(recipient)), provider.x25519(seed, recipient));
      const box = provider.sealBox(message, recipient);
      assert.deepEqual(provider.sealBoxOpen(at(box), at(recipient), at(key)), { ok: true, value: message });
      assert.deepEqual(provider.blake2b(at(message), 20, at(seed)), provider.blake2b(message, 20, seed));
      assert.deepEqual(
        provider.hmac('sha512', at(seed), at(message)),
        provider.hmac('sha512', seed, message),
      );
      assert.deepEqual(
        provider.hkdf('sha256', at(seed), at(key), at(message), 50),
        provider.hkdf('sha256', seed, key, message, 50),
      );
    });
  });

  describe(`randomness on ${provider.name}`, () => {
    it('takes randomBytes and the sealed-box ephemeral key from the injected source', () => {
      const requests: number[] = [];
      const source = seededRandom(7);
      const p = bothProviders({ random: (n) => (requests.push(n), source(n)) }).find(
        (q) => q.name === provider.name,
      )!;
      assert.deepEqual(p.randomBytes(5), seededRandom(7)(5));
      const recipient = p.x25519PublicKey(new Uint8Array(32).fill(3));
      const sealed = p.sealBox(zeros(1), recipient);
      assert.deepEqual(requests, [5, 32]);
      const expected = seededRandom(7);
      expected(5);
      assert.deepEqual(sealed.subarray(0, 32), p.x25519PublicKey(expected(32)));
    });

    it('throws CRYPTO_BAD_RANDOM_SOURCE when the source gives the wrong number of bytes', () => {
      const p = bothProviders({ random: (n) => zeros(n + 1) }).find((q) => q.name === provider.name)!;
      assertUsageError(() => p.randomBytes(4), 'CRYPTO_BAD_RANDOM_SOURCE');
    });
  });

  describe(`constantTimeEqual on ${provider.name}`, () => {
    it('is true exactly for equal contents of equal length', () => {
      assert.equal(provider.constantTimeEqual(zeros(0), zeros(0)), true);
      assert.equal(provider.constantTimeEqual(zeros(3), zeros(4)), false);
      fc.assert(
        fc.property(arbitraryBytes(1, 64), fc.nat(), (a, at) => {
          assert.equal(provider.constantTimeEqual(a, a.slice()), true);
          const b = a.map((x, i) => (i === at % a.length ? x ^ 1 : x));
          assert.equal(provider.constantTimeEqual(a, b), false);
          assert.equal(provider.constantTimeEqual(a, a.subarray(1)), false);
        }),
        { numRuns: 500 },
      );
    });
  });
}
