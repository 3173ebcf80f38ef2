import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { Rng, toBase64url, toHex, type MessagingId } from '@postern/core';
import { createNobleProvider, createSodiumProvider } from '@postern/crypto';
import {
  createIdentity,
  decodeSecretIdentity,
  describeIdentityError,
  encodeSecretIdentity,
  formatIdentityDocument,
  parseIdentityDocument,
  restoreIdentity,
  updateIdentity,
} from '../src/index.ts';

const seeded = (seed: string) => {
  const rng = Rng.fromSeed(seed);
  return (n: number) => rng.bytes(n);
};

for (const crypto of [createSodiumProvider(), createNobleProvider()]) {
  describe(`identities (${crypto.name})`, () => {
    it('creates an identity whose document is signed by its messaging id and parses back', () => {
      const alice = createIdentity(crypto, { label: 'Alice', relays: ['wss://relay.example:443'] });
      assert.deepEqual(alice.messagingId, alice.document.pubkey);
      assert.equal(alice.document.seq, 0);
      const parsed = parseIdentityDocument(crypto, formatIdentityDocument(alice.document));
      assert.deepEqual(parsed, { ok: true, value: alice.document });
    });

    it('is reproducible from a seeded random source', () => {
      const a = createIdentity(createSodiumProvider({ random: seeded('x') }), { label: 'A' });
      const b = createIdentity(createNobleProvider({ random: seeded('x') }), { label: 'A' });
      assert.equal(formatIdentityDocument(a.document), formatIdentityDocument(b.document));
    });

    it('updates the profile with seq + 1 and a new signature', () => {
      const alice = createIdentity(crypto, { label: 'Alice' });
      const bob = createIdentity(crypto, { label: 'Bob' });
      const updated = updateIdentity(crypto, alice, { replicants: [bob.messagingId] });
      assert.equal(updated.document.seq, 1);
      assert.deepEqual(updated.document.replicants, [bob.messagingId]);
      assert.ok(parseIdentityDocument(crypto, formatIdentityDocument(updated.document)).ok);
    });

    it('refuses a profile that breaks the rules, saying which rule', () => {
      assert.throws(() => createIdentity(crypto, { label: '' }), { code: 'IDENTITY_BAD_PROFILE' });
      assert.throws(() => createIdentity(crypto, { label: 'x'.repeat(65) }), /1 to 64 characters/);
      assert.throws(() => createIdentity(crypto, { label: ' Alice' }), /space/);
      assert.throws(() => createIdentity(crypto, { label: 'A\u0007' }), /control/);
      assert.throws(() => createIdentity(crypto, { label: 'A', relays: ['has space'] }), /relays\[0\]/);
      const alice = createIdentity(crypto, { label: 'Alice' });
      assert.throws(
        () => updateIdentity(crypto, alice, { replicants: [alice.messagingId] }),
        /the user itself/,
      );
      const many = Array.from({ length: 9 }, (_, i) => new Uint8Array(32).fill(i + 1) as MessagingId);
      assert.throws(() => updateIdentity(crypto, alice, { replicants: many }), /more than 8/);
    });

    it('restores from its secrets and refuses secrets that do not match the document', () => {
      const alice = createIdentity(crypto, { label: 'Alice' });
      const bob = createIdentity(crypto, { label: 'Bob' });
      const seed = alice.signingSeed.expose();
      const secret = alice.encryptionSecret.expose();
      assert.ok(restoreIdentity(crypto, seed, secret, alice.document).ok);
      const wrongSigner = restoreIdentity(crypto, bob.signingSeed.expose(), secret, alice.document);
      assert.equal(!wrongSigner.ok && wrongSigner.error.code, 'IDENTITY_BAD_FIELD');
      const wrongBox = restoreIdentity(crypto, seed, bob.encryptionSecret.expose(), alice.document);
      assert.equal(!wrongBox.ok && wrongBox.error.code, 'IDENTITY_BAD_FIELD');
    });

    it('round-trips the secret file and refuses a damaged one with a typed error', () => {
      const alice = createIdentity(crypto, { label: 'Alice' });
      const text = encodeSecretIdentity(alice);
      const restored = decodeSecretIdentity(crypto, text);
      assert.ok(restored.ok);
      assert.deepEqual(restored.value.document, alice.document);
      assert.deepEqual(restored.value.signingKey.expose(), alice.signingKey.expose());
      for (const bad of [
        '',
        '{}',
        'null',
        text.replace('"version": 1', '"version": 2'),
        text.slice(0, 100),
      ]) {
        const result = decodeSecretIdentity(crypto, bad);
        assert.equal(result.ok, false, bad);
      }
    });

    it('never prints a secret key, however the identity is printed', () => {
      const alice = createIdentity(crypto, { label: 'Alice' });
      const secrets = [alice.signingSeed, alice.signingKey, alice.encryptionSecret].map((k) => k.expose());
      const printed = [
        inspect(alice, { depth: 10 }),
        JSON.stringify(alice),
        alice.signingKey.toString(),
        String(alice.encryptionSecret),
      ];
      for (const text of printed) {
        for (const secret of secrets) {
          assert.ok(!text.includes(toHex(secret)) && !text.includes(toBase64url(secret)));
          assert.ok(!text.includes(secret.join(',')));
        }
      }
      assert.match(inspect(alice), /redacted/);
    });

    it('describes every error in one sentence', () => {
      const result = parseIdentityDocument(crypto, '{"type":"Identity","version":1}');
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(describeIdentityError(result.error), /^the identity document/);
    });
  });
}
