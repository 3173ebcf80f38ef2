// Identity records: a user's signed identity document in the DHT, found by messaging id.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { createIdentity, encodeIdentityRecord, updateIdentity } from '@postern/identity';
import {
  DEFAULT_KADEMLIA_LIMITS as limits,
  IDENTITY_SALT,
  identityRecordKey,
  keyOf,
  openIdentityRecord,
  signIdentityRecord,
  signRecord,
} from '../src/index.ts';

const rng = Rng.fromSeed('identity-record');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const NOW = 1_790_000_000_000;
const DAY = 24 * 3_600_000;

describe('identity records', () => {
  const alice = createIdentity(crypto, { label: 'Alice', relays: ['wss://relay.example:443'] });
  const mallory = createIdentity(crypto, { label: 'Mallory' });

  it('are stored under a key derived from the messaging id and open to the signed document', () => {
    const record = signIdentityRecord(crypto, alice, NOW + DAY, limits);
    assert.deepEqual(keyOf(crypto, record), identityRecordKey(crypto, alice.messagingId));
    const opened = openIdentityRecord(crypto, record, { messagingId: alice.messagingId, nowMs: NOW, limits });
    assert.deepEqual(opened, { ok: true, value: alice.document });
    // Nothing in it names a node or a network address: only the document's own fields.
    assert.deepEqual(Object.keys(alice.document).sort(), [
      'encryptionKey',
      'label',
      'pubkey',
      'relays',
      'replicants',
      'seq',
      'signature',
      'type',
      'version',
    ]);
  });

  it('carry the document seq, so an update replaces the older record everywhere', () => {
    const later = updateIdentity(crypto, alice, { label: 'Alice B.' });
    const record = signIdentityRecord(crypto, later, NOW + DAY, limits);
    assert.equal(record.seq, later.document.seq);
    assert.ok(record.seq > signIdentityRecord(crypto, alice, NOW + DAY, limits).seq);
  });

  it('refuse another user’s record, or a record whose document belongs to someone else', () => {
    const record = signIdentityRecord(crypto, mallory, NOW + DAY, limits);
    const asAlice = openIdentityRecord(crypto, record, {
      messagingId: alice.messagingId,
      nowMs: NOW,
      limits,
    });
    assert.equal(asAlice.ok ? 'ok' : asAlice.error.code, 'RECORD_WRONG_KEY');
    // Mallory signs a record under her own key carrying Alice's (genuine) document.
    const wrapped = signRecord(
      crypto,
      mallory.signingKey.expose(),
      { salt: IDENTITY_SALT, seq: 0, value: encodeIdentityRecord(alice.document), expiresAtMs: NOW + DAY },
      limits,
    );
    const opened = openIdentityRecord(crypto, wrapped, {
      messagingId: mallory.messagingId,
      nowMs: NOW,
      limits,
    });
    assert.equal(opened.ok ? 'ok' : opened.error.code, 'IDENTITY_RECORD_MISMATCH');
  });

  it('refuse a value that is not an identity document, or one at another seq', () => {
    const junk = signRecord(
      crypto,
      alice.signingKey.expose(),
      { salt: IDENTITY_SALT, seq: 0, value: utf8('not a document'), expiresAtMs: NOW + DAY },
      limits,
    );
    const opened = openIdentityRecord(crypto, junk, { messagingId: alice.messagingId, nowMs: NOW, limits });
    assert.equal(opened.ok ? 'ok' : opened.error.code, 'IDENTITY_RECORD_BAD_DOCUMENT');
    const skewed = signRecord(
      crypto,
      alice.signingKey.expose(),
      { salt: IDENTITY_SALT, seq: 5, value: encodeIdentityRecord(alice.document), expiresAtMs: NOW + DAY },
      limits,
    );
    const openedSkewed = openIdentityRecord(crypto, skewed, {
      messagingId: alice.messagingId,
      nowMs: NOW,
      limits,
    });
    assert.equal(openedSkewed.ok ? 'ok' : openedSkewed.error.code, 'IDENTITY_RECORD_MISMATCH');
  });
});
