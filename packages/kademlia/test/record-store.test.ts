// The records a node holds for others: checks on the way in, versions, expiry, and the bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, compareBytes, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  DEFAULT_KADEMLIA_LIMITS,
  RecordStore,
  type SignedRecord,
  keyOf,
  recordKey,
  signRecord,
} from '../src/index.ts';

const rng = Rng.fromSeed('record-store');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const alice = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const bob = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const NOW = 1_790_000_000_000;
const HOUR = 3_600_000;
const limits = { ...DEFAULT_KADEMLIA_LIMITS, storedRecordsMax: 3, storedRecordsPerOwnerMax: 2 };

function rec(
  seq: number,
  value = 'v',
  salt = 'identity',
  expiresAtMs = NOW + HOUR,
  key = alice.secretKey,
): SignedRecord {
  return signRecord(crypto, key, { salt: utf8(salt), seq, value: utf8(value), expiresAtMs }, limits);
}

describe('record store', () => {
  it('when full, makes room for a key nearer to this node by dropping the farthest, and refuses farther ones', () => {
    const self = new Uint8Array(32); // id 0: distance to a key is the key itself
    const store = new RecordStore(crypto, { ...limits, storedRecordsPerOwnerMax: 100 }, self);
    const owners = [
      alice,
      bob,
      crypto.ed25519KeyPairFromSeed(rng.bytes(32)),
      crypto.ed25519KeyPairFromSeed(rng.bytes(32)),
    ];
    const records = owners.map((o) => rec(1, 'v', 'k', NOW + HOUR, o.secretKey));
    const byDistance = [...records].sort((a, b) => compareBytes(keyOf(crypto, a), keyOf(crypto, b)));
    const [near, , , far] = byDistance as [SignedRecord, SignedRecord, SignedRecord, SignedRecord];
    for (const r of byDistance.slice(1)) assert.ok(store.put(keyOf(crypto, r), r, NOW).ok); // full: 3
    assert.ok(store.put(keyOf(crypto, near), near, NOW).ok, 'the nearest key gets in');
    assert.equal(store.get(keyOf(crypto, far), NOW), undefined, 'the farthest made room');
    assert.deepEqual(store.put(keyOf(crypto, far), far, NOW), { ok: false, error: { code: 'STORE_FULL' } });
  });

  it('keeps the highest seq under a key and refuses stale and conflicting versions', () => {
    const store = new RecordStore(crypto, limits);
    const one = rec(1);
    const key = keyOf(crypto, one);
    assert.deepEqual(store.put(key, one, NOW), { ok: true, value: 'created' });
    assert.deepEqual(store.put(key, rec(2), NOW), { ok: true, value: 'replaced' });
    assert.deepEqual(store.put(key, rec(1), NOW), {
      ok: false,
      error: { code: 'RECORD_STALE', storedSeq: 2 },
    });
    assert.deepEqual(store.put(key, rec(2, 'other'), NOW), {
      ok: false,
      error: { code: 'RECORD_SEQ_CONFLICT', seq: 2 },
    });
    assert.equal(store.get(key, NOW)?.seq, 2);
  });

  it('treats the same version again as a refresh, keeping the later expiry', () => {
    const store = new RecordStore(crypto, limits);
    const first = rec(3);
    const key = keyOf(crypto, first);
    store.put(key, first, NOW);
    const later = rec(3, 'v', 'identity', NOW + 2 * HOUR);
    assert.deepEqual(store.put(key, later, NOW), { ok: true, value: 'refreshed' });
    assert.equal(store.get(key, NOW)?.expiresAtMs, NOW + 2 * HOUR);
    assert.deepEqual(store.put(key, first, NOW), { ok: true, value: 'refreshed' });
    assert.equal(
      store.get(key, NOW)?.expiresAtMs,
      NOW + 2 * HOUR,
      'an earlier expiry does not replace a later one',
    );
  });

  it('refuses forged, wrongly keyed and expired records without touching what it holds', () => {
    const store = new RecordStore(crypto, limits);
    const good = rec(1);
    const key = keyOf(crypto, good);
    store.put(key, good, NOW);
    const forged = { ...rec(5), value: utf8('evil') };
    assert.equal(store.put(key, forged, NOW).ok, false);
    assert.equal(store.put(recordKey(crypto, alice.publicKey, utf8('other')), rec(6), NOW).ok, false);
    assert.equal(store.put(key, rec(7, 'v', 'identity', NOW), NOW).ok, false);
    assert.equal(store.get(key, NOW)?.seq, 1);
  });

  it('stops returning a record once it expires, and frees its place', () => {
    const store = new RecordStore(crypto, limits);
    const r = rec(1);
    const key = keyOf(crypto, r);
    store.put(key, r, NOW);
    assert.equal(store.get(key, r.expiresAtMs), undefined);
    assert.equal(store.size, 0);
  });

  it('bounds records per owner and in total, answering STORE_FULL', () => {
    const store = new RecordStore(crypto, limits);
    const put = (r: SignedRecord) => store.put(keyOf(crypto, r), r, NOW);
    assert.ok(put(rec(1, 'v', 'a')).ok);
    assert.ok(put(rec(1, 'v', 'b')).ok);
    assert.deepEqual(put(rec(1, 'v', 'c')), { ok: false, error: { code: 'STORE_FULL' } });
    assert.ok(put(rec(1, 'v', 'x', NOW + HOUR, bob.secretKey)).ok);
    assert.deepEqual(put(rec(1, 'v', 'y', NOW + HOUR, bob.secretKey)), {
      ok: false,
      error: { code: 'STORE_FULL' },
    });
    // Expired records make room again.
    const soon = new RecordStore(crypto, limits);
    const short = rec(1, 'v', 'a', NOW + 1);
    soon.put(keyOf(crypto, short), short, NOW);
    soon.put(keyOf(crypto, rec(1, 'v', 'b')), rec(1, 'v', 'b'), NOW);
    const third = rec(1, 'v', 'z', NOW + HOUR, bob.secretKey);
    assert.ok(soon.put(keyOf(crypto, third), third, NOW).ok);
    const fourth = rec(2, 'v', 'w', NOW + HOUR, bob.secretKey);
    assert.ok(
      soon.put(keyOf(crypto, fourth), fourth, NOW + 2).ok,
      'the expired record was swept to make room',
    );
  });
});
