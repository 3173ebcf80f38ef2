import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, Rng, concatBytes, utf8 } from '@postern/core';
import { createNobleProvider, createSodiumProvider } from '@postern/crypto';
import { createIdentity, recipientKeys } from '@postern/identity';
import { encodeCanonical, decodeCanonical, type WireValue } from '@postern/wire';
import {
  EnvelopeLimits,
  describeEnvelopeError,
  envelopeDedupeKey,
  open,
  paddedSize,
  seal,
  verifyEnvelope,
} from '../src/index.ts';

const NOW = 1_790_000_000_000 as Millis;
const HOUR = 3_600_000;
const seeded = (seed: string) => {
  const rng = Rng.fromSeed(seed);
  return (n: number) => rng.bytes(n);
};

for (const crypto of [createSodiumProvider(), createNobleProvider()]) {
  const alice = createIdentity(crypto, { label: 'Alice' });
  const bob = createIdentity(crypto, { label: 'Bob' });
  const carol = createIdentity(crypto, { label: 'Carol' });
  const toBob = (body: Uint8Array, options: Partial<Parameters<typeof seal>[4]> = {}) =>
    seal(crypto, alice, recipientKeys(bob.document), body, {
      ttlMs: HOUR,
      isReplicated: true,
      now: NOW,
      ...options,
    });

  describe(`sealed envelopes (${crypto.name})`, () => {
    it('opens for the recipient with the body and the header the sender chose', () => {
      const envelope = toBob(utf8('hello Bob'), { isReplicated: false });
      const opened = open(crypto, bob, envelope, (NOW + 1000) as Millis);
      assert.ok(opened.ok);
      assert.deepEqual(opened.value.body, utf8('hello Bob'));
      assert.deepEqual(opened.value.sender, alice.messagingId);
      assert.deepEqual(opened.value.recipient, bob.messagingId);
      assert.equal(opened.value.timestampMs, NOW);
      assert.equal(opened.value.ttlMs, HOUR);
      assert.equal(opened.value.isReplicated, false);
      assert.equal(opened.value.id.length, 16);
    });

    it('lets a carrier verify sender, recipient and expiry without reading anything', () => {
      const verified = verifyEnvelope(crypto, toBob(utf8('secret')), NOW);
      assert.ok(verified.ok);
      assert.equal(verified.value.isReplicated, true);
      assert.ok(!('body' in verified.value));
    });

    it('gives every envelope a fresh id and ciphertext', () => {
      const a = toBob(utf8('same'));
      const b = toBob(utf8('same'));
      assert.notDeepEqual(a, b);
    });

    it('refuses an envelope sealed to someone else', () => {
      const result = open(crypto, carol, toBob(utf8('for Bob')), NOW);
      assert.deepEqual(result, {
        ok: false,
        error: { code: 'ENVELOPE_NOT_FOR_RECIPIENT', recipient: bob.messagingId },
      });
    });

    it('refuses an expired envelope, saying when it expired', () => {
      const envelope = toBob(utf8('late'), { ttlMs: 5000 });
      assert.ok(open(crypto, bob, envelope, (NOW + 4999) as Millis).ok);
      const result = open(crypto, bob, envelope, (NOW + 5000) as Millis);
      assert.deepEqual(result, { ok: false, error: { code: 'ENVELOPE_EXPIRED', expiredAtMs: NOW + 5000 } });
      if (!result.ok) assert.match(describeEnvelopeError(result.error), /expired at .* UTC/);
      assert.match(
        describeEnvelopeError({ code: 'ENVELOPE_EXPIRED', expiredAtMs: 9e15 }),
        /9000000000000000 ms/,
      );
    });

    it('refuses a timestamp too far in the future, tolerating clock skew', () => {
      const envelope = toBob(utf8('early'));
      assert.ok(open(crypto, bob, envelope, (NOW - EnvelopeLimits.clockSkewMsMax) as Millis).ok);
      const result = open(crypto, bob, envelope, (NOW - EnvelopeLimits.clockSkewMsMax - 1) as Millis);
      assert.equal(!result.ok && result.error.code, 'ENVELOPE_FROM_FUTURE');
    });

    it('detects a carrier that strips the signature and re-signs as itself', () => {
      // Mallory (carol) cannot read Alice's envelope, but tries to pass it off as her own.
      const envelope = toBob(utf8('from Alice'));
      const fields = (decodeCanonical(envelope) as { ok: true; value: WireValue[] }).value.slice();
      fields[5] = carol.messagingId;
      const resigned = encodeCanonical(fields);
      const signed = concatBytes(
        utf8('postern/envelope/v1/sign\n'),
        resigned.subarray(0, resigned.length - 66),
      );
      resigned.set(crypto.ed25519Sign(carol.signingKey.expose(), signed), resigned.length - 64);
      assert.ok(verifyEnvelope(crypto, resigned, NOW).ok, 'the forgery is well signed by Mallory');
      assert.deepEqual(open(crypto, bob, resigned, NOW), {
        ok: false,
        error: { code: 'ENVELOPE_DECRYPT_FAILED' },
      });
    });

    it('refuses an unknown version and unknown flags', () => {
      const fields = (decodeCanonical(toBob(utf8('v'))) as { ok: true; value: WireValue[] }).value.slice();
      const future = open(crypto, bob, encodeCanonical([2, ...fields.slice(1)]), NOW);
      assert.deepEqual(future, { ok: false, error: { code: 'ENVELOPE_UNKNOWN_VERSION', version: 2 } });
      const flags = open(crypto, bob, encodeCanonical([1, 0x80, ...fields.slice(2)]), NOW);
      assert.equal(!flags.ok && flags.error.code, 'ENVELOPE_MALFORMED');
    });

    it('refuses flags above bit 31 that a 32-bit mask would miss', () => {
      const fields = (decodeCanonical(toBob(utf8('f'))) as { ok: true; value: WireValue[] }).value.slice();
      for (const flags of [2 ** 32 + 1, 2 ** 32, 2 ** 40 + 1, 2]) {
        const result = open(crypto, bob, encodeCanonical([1, flags, ...fields.slice(2)]), NOW);
        assert.equal(!result.ok && result.error.code, 'ENVELOPE_MALFORMED', String(flags));
      }
    });

    it('reports a later version as unknown even when its layout differs', () => {
      const later = encodeCanonical([2, [['nested', 'fields']], ...Array.from({ length: 20 }, (_, i) => i)]);
      assert.deepEqual(open(crypto, bob, later, NOW), {
        ok: false,
        error: { code: 'ENVELOPE_UNKNOWN_VERSION', version: 2 },
      });
    });

    it('dedupes by sender and id, so a carrier cannot shadow an envelope by copying its id', () => {
      const real = verifyEnvelope(crypto, toBob(utf8('real')), NOW);
      assert.ok(real.ok);
      const shadow = { ...real.value, sender: carol.messagingId };
      assert.notEqual(envelopeDedupeKey(real.value), envelopeDedupeKey(shadow));
      assert.equal(
        envelopeDedupeKey(real.value),
        envelopeDedupeKey({ sender: alice.messagingId, id: real.value.id }),
      );
    });

    it('refuses to seal with a signing key that is not the sender id', () => {
      assert.throws(
        () =>
          seal(
            crypto,
            { messagingId: carol.messagingId, signingKey: alice.signingKey },
            recipientKeys(bob.document),
            utf8('x'),
            {
              ttlMs: HOUR,
              isReplicated: false,
              now: NOW,
            },
          ),
        { code: 'ENVELOPE_BAD_SENDER' },
      );
    });

    it('seals identically under the same seeded randomness, whichever provider seals', () => {
      const s = createSodiumProvider({ random: seeded('env') });
      const n = createNobleProvider({ random: seeded('env') });
      const options = { ttlMs: HOUR, isReplicated: true, now: NOW };
      const a = seal(s, alice, recipientKeys(bob.document), utf8('x'), options);
      const b = seal(n, alice, recipientKeys(bob.document), utf8('x'), options);
      assert.deepEqual(a, b);
    });
  });
}

describe('sealed envelopes across providers', () => {
  it('opens with noble what sodium sealed, and the other way round', () => {
    const sodium = createSodiumProvider();
    const noble = createNobleProvider();
    const alice = createIdentity(sodium, { label: 'Alice' });
    const bob = createIdentity(sodium, { label: 'Bob' });
    const options = { ttlMs: HOUR, isReplicated: false, now: NOW };
    const bySodium = seal(sodium, alice, recipientKeys(bob.document), utf8('one'), options);
    const byNoble = seal(noble, alice, recipientKeys(bob.document), utf8('two'), options);
    assert.deepEqual(open(noble, bob, bySodium, NOW).ok && 'ok', 'ok');
    assert.deepEqual(open(sodium, bob, byNoble, NOW).ok && 'ok', 'ok');
  });
});

describe('envelope size and padding', () => {
  const crypto = createSodiumProvider();
  const alice = createIdentity(crypto, { label: 'Alice' });
  const bob = createIdentity(crypto, { label: 'Bob' });
  const sealSize = (n: number) =>
    seal(crypto, alice, recipientKeys(bob.document), new Uint8Array(n), {
      ttlMs: HOUR,
      isReplicated: false,
      now: NOW,
    }).length;

  it('makes a 511-byte envelope of a 1-byte body, as docs/protocols/envelope.md says', () => {
    assert.equal(sealSize(1), 511);
  });

  it('gives every short body the same envelope size', () => {
    const sizes = new Set([0, 1, 17, 100, 200, 252].map(sealSize));
    assert.equal(sizes.size, 1);
    assert.ok(sealSize(253) > sealSize(252));
  });

  it('pads to Padmé buckets: never smaller, at most 12 % larger, monotone', () => {
    let previous = 0;
    for (let n = 1; n < 2_000_000; n = Math.ceil(n * 1.01) + 1) {
      const padded = paddedSize(n);
      assert.ok(padded >= n && padded >= previous);
      if (n > EnvelopeLimits.paddedBytesMin) assert.ok(padded <= n * 1.12, `${n} → ${padded}`);
      previous = padded;
    }
  });

  it('fits the largest body within the envelope limit and refuses a larger one', () => {
    assert.ok(sealSize(EnvelopeLimits.bodyBytesMax) <= EnvelopeLimits.envelopeBytesMax);
    assert.throws(() => sealSize(EnvelopeLimits.bodyBytesMax + 1), { code: 'ENVELOPE_BODY_TOO_LARGE' });
  });

  it('refuses a TTL outside its range when sealing', () => {
    for (const ttlMs of [0, -1, 1.5, EnvelopeLimits.ttlMsMax + 1]) {
      assert.throws(
        () =>
          seal(crypto, alice, recipientKeys(bob.document), utf8('x'), {
            ttlMs,
            isReplicated: false,
            now: NOW,
          }),
        { code: 'ENVELOPE_BAD_TTL' },
      );
    }
  });
});
