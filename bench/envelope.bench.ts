// Crypto primitives and sealed envelopes, for each provider.
// The raw bound is the primitives one seal + open needs, called back to back on inputs of the sizes
// the envelope path uses (X25519 keygen, 2 × X25519, 2 × BLAKE2b, AEAD encrypt and decrypt, Ed25519
// sign and verify). It runs in rounds alternating with seal + open; the ratio is the median over
// rounds of raw time ÷ envelope time (1.0 = the envelope path adds nothing to its primitives).
import { type Millis, concatBytes, utf8 } from '@postern/core';
import { type CryptoProvider, createNobleProvider, createSodiumProvider } from '@postern/crypto';
import { createIdentity, recipientKeys } from '@postern/identity';
import { open, paddedSize, seal } from '@postern/envelope';
import { type Measurement, formatRate, measure, measurePaired } from './harness.ts';

const BODY_BYTES = 1024;
const NOW = 1_790_000_000_000 as Millis;

export interface ProviderFigures {
  readonly provider: string;
  readonly rows: Measurement[];
  readonly rawSealOpenUs: number;
  readonly envelopeSealOpenUs: number;
  readonly ratio: number;
}

export function benchProvider(crypto: CryptoProvider, quick: boolean): ProviderFigures {
  const opts = quick ? { rounds: 3, roundMs: 100 } : {};
  const alice = createIdentity(crypto, { label: 'Alice' });
  const bob = createIdentity(crypto, { label: 'Bob' });
  const body = crypto.randomBytes(BODY_BYTES);
  const envelope = seal(crypto, alice, recipientKeys(bob.document), body, {
    ttlMs: 3_600_000,
    isReplicated: true,
    now: NOW,
  });
  const padded = new Uint8Array(paddedSize(4 + BODY_BYTES));
  const key = crypto.randomBytes(32);
  const nonce = new Uint8Array(12);
  const ad = new Uint8Array(190); // the size of the encoded header the envelope authenticates
  const ciphertext = crypto.chacha20poly1305Encrypt(key, nonce, padded, ad);
  const signed = concatBytes(utf8('postern/envelope/v1/sign\n'), envelope.subarray(0, envelope.length - 66));
  const signature = crypto.ed25519Sign(alice.signingKey.expose(), signed);
  const eph = crypto.randomBytes(32);
  const kdfInput = new Uint8Array(24 + 16 + 32 + 32);

  const m = (name: string, fn: () => unknown) => measure(`${crypto.name} ${name}`, fn, opts);
  const sign = m('Ed25519 sign (envelope-sized message)', () =>
    crypto.ed25519Sign(alice.signingKey.expose(), signed),
  );
  const verify = m('Ed25519 verify (envelope-sized message)', () =>
    crypto.ed25519Verify(alice.messagingId, signed, signature),
  );
  const keygen = m('X25519 public key', () => crypto.x25519PublicKey(eph));
  const dh = m('X25519 shared secret', () => crypto.x25519(eph, bob.encryptionKey));
  const kdf = m('BLAKE2b-256 keyed (envelope key)', () => crypto.blake2b(kdfInput, 32, key));
  const enc = m(`ChaCha20-Poly1305 encrypt ${padded.length} B`, () =>
    crypto.chacha20poly1305Encrypt(key, nonce, padded, ad),
  );
  const dec = m(`ChaCha20-Poly1305 decrypt ${padded.length} B`, () =>
    crypto.chacha20poly1305Decrypt(key, nonce, ciphertext, ad),
  );
  const aead1k = m('ChaCha20-Poly1305 encrypt 1 KiB', () =>
    crypto.chacha20poly1305Encrypt(key, nonce, body, new Uint8Array(0)),
  );
  const sealRow = m(`seal ${BODY_BYTES} B body`, () =>
    seal(crypto, alice, recipientKeys(bob.document), body, {
      ttlMs: 3_600_000,
      isReplicated: true,
      now: NOW,
    }),
  );
  const openRow = m(`open ${BODY_BYTES} B body`, () => open(crypto, bob, envelope, NOW));

  const rawSealOpen = () => {
    crypto.x25519PublicKey(eph);
    crypto.x25519(eph, bob.encryptionKey);
    crypto.blake2b(kdfInput, 32, key);
    crypto.chacha20poly1305Encrypt(key, nonce, padded, ad);
    crypto.ed25519Sign(alice.signingKey.expose(), signed);
    crypto.ed25519Verify(alice.messagingId, signed, signature);
    crypto.x25519(eph, bob.encryptionKey);
    crypto.blake2b(kdfInput, 32, key);
    crypto.chacha20poly1305Decrypt(key, nonce, ciphertext, ad);
  };
  const envelopeSealOpen = () => {
    seal(crypto, alice, recipientKeys(bob.document), body, {
      ttlMs: 3_600_000,
      isReplicated: true,
      now: NOW,
    });
    open(crypto, bob, envelope, NOW);
  };
  const paired = measurePaired(
    { name: `${crypto.name} raw bound: the primitives of seal + open`, fn: rawSealOpen },
    { name: `${crypto.name} envelope seal + open ${BODY_BYTES} B`, fn: envelopeSealOpen },
    opts,
  );
  return {
    provider: crypto.name,
    rows: [sign, verify, keygen, dh, kdf, aead1k, enc, dec, sealRow, openRow, paired.a, paired.b],
    rawSealOpenUs: 1e6 / paired.a.opsPerSec,
    envelopeSealOpenUs: 1e6 / paired.b.opsPerSec,
    ratio: paired.ratio,
  };
}

export function runEnvelopeBench(quick: boolean): ProviderFigures[] {
  return [createSodiumProvider(), createNobleProvider()].map((crypto) => benchProvider(crypto, quick));
}

export function printFigures(figures: ProviderFigures[]): void {
  for (const f of figures) {
    console.log(`\n${f.provider}`);
    for (const row of f.rows)
      console.log(`  ${row.name.padEnd(58)} ${formatRate(row.opsPerSec).padStart(11)}`);
    console.log(
      `  seal+open: raw bound ${f.rawSealOpenUs.toFixed(1)} µs, envelope path ${f.envelopeSealOpenUs.toFixed(1)} µs, ` +
        `ratio ${f.ratio.toFixed(3)} (median over paired rounds of raw ÷ envelope; goal ≥ 0.8 with sodium-native)`,
    );
  }
}
