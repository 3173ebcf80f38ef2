// The k-buckets: placement, least-recently-seen order, ping-the-oldest eviction, replacement
// caches, closest-contact queries against a brute-force reference, and bucket refresh.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, type NodeId, Rng, bytesEqual } from '@postern/core';
import { RoutingTable, commonPrefixBits, compareDistance } from '../src/index.ts';
import { T0, contact, idSharing, randomId } from './helpers.ts';

const limits = { bucketSize: 4, replacementCacheSize: 2 };

function table(seed: string): { rng: Rng; self: NodeId; t: RoutingTable } {
  const rng = Rng.fromSeed(seed);
  const self = randomId(rng);
  return { rng, self, t: new RoutingTable(self, limits, T0) };
}

describe('routing table', () => {
  it('adds contacts until a bucket holds k, and never adds itself', () => {
    const { rng, self, t } = table('add');
    for (let i = 0; i < 4; i++) assert.equal(t.observe(contact(idSharing(self, 3, rng)), T0).type, 'added');
    assert.equal(t.size, 4);
    assert.deepEqual(t.observe(contact(self), T0), { type: 'ignored' });
  });

  it('asks to ping the least-recently-seen contact when a newcomer finds its bucket full, once', () => {
    const { rng, self, t } = table('full');
    const ids = Array.from({ length: 4 }, () => idSharing(self, 1, rng));
    ids.forEach((id, i) => t.observe(contact(id), i as Millis));
    const first = t.observe(contact(idSharing(self, 1, rng)), 10 as Millis);
    assert.equal(first.type, 'cached');
    assert.ok(first.type === 'cached' && first.ping && bytesEqual(first.ping.id, ids[0] as NodeId));
    // A second newcomer while that ping is out asks for nothing more.
    assert.deepEqual(t.observe(contact(idSharing(self, 1, rng)), 11 as Millis), {
      type: 'cached',
      ping: undefined,
    });
    assert.equal(t.size, 4);
  });

  it('keeps a pinged contact that answers, as the most recently seen', () => {
    const { rng, self, t } = table('answer');
    const ids = Array.from({ length: 4 }, () => idSharing(self, 2, rng));
    ids.forEach((id) => t.observe(contact(id), T0));
    const newcomer = idSharing(self, 2, rng);
    t.observe(contact(newcomer), T0);
    t.pingAnswered(ids[0] as NodeId, 5 as Millis);
    assert.ok(t.has(ids[0] as NodeId));
    assert.ok(!t.has(newcomer));
    // ids[1] is now the oldest: the next newcomer asks for it.
    const next = t.observe(contact(idSharing(self, 2, rng)), 6 as Millis);
    assert.ok(next.type === 'cached' && next.ping && bytesEqual(next.ping.id, ids[1] as NodeId));
  });

  it('evicts a contact whose ping fails and promotes the most recently seen replacement', () => {
    const { rng, self, t } = table('evict');
    const ids = Array.from({ length: 4 }, () => idSharing(self, 5, rng));
    ids.forEach((id) => t.observe(contact(id), T0));
    const older = idSharing(self, 5, rng);
    const newer = idSharing(self, 5, rng);
    t.observe(contact(older), 1 as Millis);
    t.observe(contact(newer), 2 as Millis);
    t.pingFailed(ids[0] as NodeId);
    assert.ok(!t.has(ids[0] as NodeId));
    assert.ok(t.has(newer), 'the most recent replacement takes the place');
    assert.ok(!t.has(older));
    assert.equal(t.size, 4);
  });

  it('keeps at most replacementCacheSize replacements, dropping the oldest', () => {
    const { rng, self, t } = table('cache');
    Array.from({ length: 4 }, () => idSharing(self, 0, rng)).forEach((id) => t.observe(contact(id), T0));
    const waiting = Array.from({ length: 3 }, () => idSharing(self, 0, rng));
    waiting.forEach((id, i) => t.observe(contact(id), (i + 1) as Millis));
    const inBucket = t.contacts().map((c) => c.id);
    for (const id of inBucket) t.pingFailed(id);
    // Four failures, two replacements: the two most recent came in, the oldest was dropped.
    assert.ok(t.has(waiting[2] as NodeId) && t.has(waiting[1] as NodeId));
    assert.ok(!t.has(waiting[0] as NodeId));
    assert.equal(t.size, 2);
  });

  it('returns the closest contacts exactly as sorting every contact by distance would', () => {
    const rng = Rng.fromSeed('closest');
    const self = randomId(rng);
    const t = new RoutingTable(self, { bucketSize: 20, replacementCacheSize: 5 }, T0);
    for (let i = 0; i < 3000; i++) t.observe(contact(randomId(rng)), T0);
    const all = t.contacts();
    for (let q = 0; q < 200; q++) {
      const target = q % 4 === 0 ? idSharing(self, rng.int(12), rng) : randomId(rng);
      const count = 1 + rng.int(30);
      const expected = [...all].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, count);
      assert.deepEqual(
        t.closest(target, count).map((c) => c.id),
        expected.map((c) => c.id),
      );
    }
  });

  it('leaves out excluded ids from closest', () => {
    const { rng, t } = table('exclude');
    const ids = Array.from({ length: 6 }, () => randomId(rng));
    ids.forEach((id) => t.observe(contact(id), T0));
    const target = ids[0] as NodeId;
    const got = t.closest(target, 10, (id) => bytesEqual(id, target));
    assert.ok(got.every((c) => !bytesEqual(c.id, target)));
  });

  it('lists buckets to refresh up to one past the farthest non-empty bucket, and not after a lookup touched them', () => {
    const { rng, self, t } = table('refresh');
    t.observe(contact(idSharing(self, 3, rng)), T0);
    const hour = 3_600_000;
    assert.deepEqual(t.staleBuckets(T0, hour), []);
    const later = hour as Millis;
    assert.deepEqual(t.staleBuckets(later, hour), [0, 1, 2, 3, 4]);
    t.touch(idSharing(self, 2, rng), later);
    assert.deepEqual(t.staleBuckets(later, hour), [0, 1, 3, 4]);
    assert.equal(commonPrefixBits(self, idSharing(self, 2, rng)), 2);
  });
});
