// The two providers agree byte for byte on every deterministic operation, and on every accept/reject
// answer, over random inputs (fast-check) and over the inputs where verifiers are known to differ.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import sodium from 'sodium-native';
import { toHex, type Result } from '@postern/core';
import {
  createNobleProvider,
  createSodiumProvider,
  KeyBytes,
  type CryptoProvider,
  type HashName,
} from '../src/index.ts';
import {
  edgeEncodings,
  edgeScalars,
  honestPoint,
  smallOrderPoints,
  torsionSignature,
} from './ed25519-edges.ts';
import { arbitraryBytes, hex, seededRandom } from './helpers.ts';

const sodiumProvider = createSodiumProvider();
const nobleProvider = createNobleProvider();
const providers = [sodiumProvider, nobleProvider] as const;

const bytes = arbitraryBytes;
const key32 = bytes(32, 32);
const hashNames: readonly HashName[] = ['sha256', 'sha512', 'blake2b512'];

/** Both providers' answers, as comparable text: hex bytes, an error code, or the thrown error's code. */
function both(f: (provider: CryptoProvider) => unknown): [string, string] {
  const [a, b] = providers.map((provider) => show(() => f(provider)));
  return [a!, b!];
}

function show(f: () => unknown): string {
  try {
    const value = f();
    if (value instanceof Uint8Array) return toHex(value);
    if (typeof value === 'object' && value !== null && 'ok' in value) {
      const result = value as Result<Uint8Array, { code: string }>;
      return result.ok ? `ok ${toHex(result.value)}` : `err ${result.error.code}`;
    }
    return JSON.stringify(value, (_, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v));
  } catch (e) {
    return `throws ${e instanceof Error && 'code' in e ? String(e.code) : String(e)}`;
  }
}

function agree(f: (provider: CryptoProvider) => unknown): string {
  const [a, b] = both(f);
  assert.equal(b, a, 'noble differs from sodium-native');
  return a;
}

const flipBit = (data: Uint8Array, bit: number): Uint8Array =>
  data.map((b, i) => (i === (bit >> 3) % data.length ? b ^ (1 << (bit & 7)) : b));

describe('Ed25519: both providers agree', () => {
  it('derives the same key pair from any seed', () => {
    fc.assert(
      fc.property(key32, (seed) => void agree((p) => p.ed25519KeyPairFromSeed(seed))),
      { numRuns: 300 },
    );
  });

  it('signs any message with the same bytes, and both verify the signature', () => {
    fc.assert(
      fc.property(key32, bytes(0, 300), (seed, message) => {
        const { secretKey, publicKey } = sodiumProvider.ed25519KeyPairFromSeed(seed);
        const signature = hex(agree((p) => p.ed25519Sign(secretKey, message)));
        assert.equal(
          agree((p) => p.ed25519Verify(publicKey, message, signature)),
          'true',
        );
      }),
      { numRuns: 300 },
    );
  });

  it('answers alike on signatures, keys and messages with one bit flipped', () => {
    fc.assert(
      fc.property(
        key32,
        bytes(1, 100),
        fc.nat(),
        fc.constantFrom('signature', 'key', 'message'),
        (seed, m, bit, what) => {
          const { secretKey, publicKey } = sodiumProvider.ed25519KeyPairFromSeed(seed);
          const sig = sodiumProvider.ed25519Sign(secretKey, m);
          const key = what === 'key' ? flipBit(publicKey, bit) : publicKey;
          const message = what === 'message' ? flipBit(m, bit) : m;
          const signature = what === 'signature' ? flipBit(sig, bit) : sig;
          agree((p) => p.ed25519Verify(key, message, signature));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers alike on random signatures under random 32-byte "public keys"', () => {
    fc.assert(
      fc.property(key32, bytes(0, 64), bytes(64, 64), (key, message, signature) => {
        agree((p) => p.ed25519Verify(key, message, signature));
      }),
      { numRuns: 500 },
    );
  });

  it('answers alike when a small-order point is added to R or to the public key, or is R', () => {
    const accepted = { true: 0, false: 0 };
    const where = fc.constantFrom('R' as const, 'A' as const, 'R alone' as const);
    fc.assert(
      fc.property(key32, bytes(0, 64), fc.integer({ min: 0, max: 7 }), where, (seed, m, t, w) => {
        const { publicKey, signature } = torsionSignature(seed, m, smallOrderPoints[t]!, w);
        accepted[agree((p) => p.ed25519Verify(publicKey, m, signature)) as 'true' | 'false']++;
      }),
      { numRuns: 300 },
    );
    console.log(`torsion signatures: ${accepted.true} accepted, ${accepted.false} refused by both`);
    assert.ok(
      accepted.true > 0 && accepted.false > 0,
      'both outcomes occur, so the comparison means something',
    );
  });

  it('answers alike on every combination of edge-case R, public key and S', () => {
    const seed = new Uint8Array(32).fill(42);
    const message = new TextEncoder().encode('edges');
    const encodings = edgeEncodings(honestPoint(seed));
    const honest = sodiumProvider.ed25519Sign(sodiumProvider.ed25519KeyPairFromSeed(seed).secretKey, message);
    let combinations = 0;
    for (const key of encodings) {
      for (const r of [...encodings, honest.subarray(0, 32)]) {
        for (const s of [...edgeScalars, honest.subarray(32)]) {
          const signature = new Uint8Array([...r, ...s]);
          agree((p) => p.ed25519Verify(key, message, signature));
          combinations++;
        }
      }
    }
    console.log(`Ed25519 edge combinations compared: ${combinations}`);
  });
});

describe('X25519: both providers agree', () => {
  const p = 2n ** 255n - 19n;
  const lowOrder = [
    0n,
    1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    p - 1n,
    p,
    p + 1n,
  ].flatMap((u) => [u, u + 2n ** 255n]);
  const uBytes = (u: bigint): Uint8Array =>
    Uint8Array.from({ length: 32 }, (_, i) => Number((u >> BigInt(8 * i)) & 255n));

  it('derives the same public key and shared secret for random keys', () => {
    fc.assert(
      fc.property(key32, key32, (secret, peer) => {
        agree((provider) => provider.x25519PublicKey(secret));
        assert.match(
          agree((provider) => provider.x25519(secret, peer)),
          /^ok /,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('refuses every low-order public key, with either top bit, alike', () => {
    fc.assert(
      fc.property(key32, fc.constantFrom(...lowOrder), (secret, u) => {
        assert.equal(
          agree((provider) => provider.x25519(secret, uBytes(u))),
          'err CRYPTO_X25519_LOW_ORDER',
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe('AEADs: both providers agree', () => {
  const aeads = [
    { name: 'ChaCha20-Poly1305', nonce: 12, enc: 'chacha20poly1305Encrypt', dec: 'chacha20poly1305Decrypt' },
    {
      name: 'XChaCha20-Poly1305',
      nonce: 24,
      enc: 'xchacha20poly1305Encrypt',
      dec: 'xchacha20poly1305Decrypt',
    },
  ] as const;
  for (const aead of aeads) {
    it(`${aead.name}: encrypts alike, and decrypts intact, mutated and truncated ciphertexts alike`, () => {
      fc.assert(
        fc.property(
          key32,
          bytes(aead.nonce, aead.nonce),
          bytes(0, 300),
          bytes(0, 64),
          fc.constantFrom('intact', 'flip', 'truncate'),
          fc.nat(),
          (key, nonce, plaintext, ad, change, at) => {
            const sealed = hex(agree((p) => p[aead.enc](key, nonce, plaintext, ad)));
            const changed =
              change === 'flip'
                ? flipBit(sealed, at)
                : change === 'truncate'
                  ? sealed.subarray(0, at % sealed.length)
                  : sealed;
            const opened = agree((p) => p[aead.dec](key, nonce, changed, ad));
            assert.equal(opened, change === 'intact' ? `ok ${toHex(plaintext)}` : 'err CRYPTO_AEAD_FAILED');
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});

describe('hashes and KDFs: both providers agree', () => {
  it('BLAKE2b: every output length 1..64, unkeyed and keyed', () => {
    for (let outLength = 1; outLength <= 64; outLength++) {
      for (const key of [
        undefined,
        new Uint8Array(1).fill(1),
        new Uint8Array(outLength).fill(7),
        new Uint8Array(64).fill(9),
      ]) {
        agree((p) => p.blake2b(new TextEncoder().encode(`length ${outLength}`), outLength, key));
      }
    }
    fc.assert(
      fc.property(
        bytes(0, 300),
        fc.integer({ min: 1, max: 64 }),
        fc.option(bytes(1, 64), { nil: undefined }),
        (m, n, key) => {
          agree((p) => p.blake2b(m, n, key));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('HMAC-BLAKE2b of messages longer than the sodium provider buffers in one piece', () => {
    fc.assert(
      fc.property(bytes(1000, 3000), bytes(0, 200), (message, key) => {
        agree((p) => p.hmac('blake2b512', key, message));
      }),
      { numRuns: 50 },
    );
  });

  it('hash, and HMAC with keys of 0..200 bytes, under every hash name', () => {
    fc.assert(
      fc.property(fc.constantFrom(...hashNames), bytes(0, 300), bytes(0, 200), (name, message, key) => {
        agree((p) => p.hash(name, message));
        agree((p) => p.hmac(name, key, message));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(bytes(0, 300), (m) =>
        assert.equal(
          agree((p) => p.sha256(m)),
          agree((p) => p.hash('sha256', m)),
        ),
      ),
      {
        numRuns: 100,
      },
    );
  });

  it('HKDF under every hash name, up to the largest output and info', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...hashNames),
        bytes(0, 100),
        bytes(0, 100),
        bytes(0, 1024),
        fc.integer({ min: 0, max: 255 * 64 }),
        (name, ikm, salt, info, n) => {
          const length = name === 'sha256' ? n % (255 * 32 + 1) : n;
          agree((p) => p.hkdf(name, ikm, salt, info, length));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('sealed boxes: both providers agree', () => {
  it('seal to the same bytes under the same seeded randomness, and each opens the other', () => {
    fc.assert(
      fc.property(fc.nat(), key32, bytes(0, 200), (seed, recipientSecret, message) => {
        const recipient = sodiumProvider.x25519PublicKey(recipientSecret);
        const [a, b] = [createSodiumProvider, createNobleProvider].map((create) =>
          create({ random: seededRandom(seed) }).sealBox(message, recipient),
        );
        assert.deepEqual(b, a);
        for (const provider of providers) {
          assert.equal(
            show(() => provider.sealBoxOpen(a!, recipient, recipientSecret)),
            `ok ${toHex(message)}`,
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it("open libsodium's own crypto_box_seal output", () => {
    fc.assert(
      fc.property(key32, bytes(0, 200), (recipientSecret, message) => {
        const recipient = sodiumProvider.x25519PublicKey(recipientSecret);
        const sealed = new Uint8Array(message.length + KeyBytes.sealBoxOverhead);
        sodium.crypto_box_seal(sealed, message, recipient);
        assert.equal(
          agree((p) => p.sealBoxOpen(sealed, recipient, recipientSecret)),
          `ok ${toHex(message)}`,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('refuse mutated and truncated sealed boxes alike', () => {
    fc.assert(
      fc.property(
        key32,
        bytes(0, 100),
        fc.constantFrom('flip', 'truncate'),
        fc.nat(),
        (recipientSecret, m, change, at) => {
          const recipient = sodiumProvider.x25519PublicKey(recipientSecret);
          const sealed = sodiumProvider.sealBox(m, recipient);
          const changed = change === 'flip' ? flipBit(sealed, at) : sealed.subarray(0, at % sealed.length);
          assert.equal(
            agree((p) => p.sealBoxOpen(changed, recipient, recipientSecret)),
            'err CRYPTO_SEALED_BOX_FAILED',
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
