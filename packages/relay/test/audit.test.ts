// Seed 003's audit: acknowledgements sealed to the sender, set beside the relay's usage reports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, millis } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { createIdentity, recipientKeys } from '@postern/identity';
import { ACK_TAG, auditDeliveries, formatPath, openAck, parsePath, sealAck } from '../src/index.ts';

const rng = Rng.fromSeed('relay audit');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const alice = createIdentity(crypto, { label: 'alice' });
const bob = createIdentity(crypto, { label: 'bob' });
const carol = createIdentity(crypto, { label: 'carol' });
const relay = rng.bytes(32);
const other = rng.bytes(32);
const NOW = millis(1_790_000_000_000);
const options = { ttlMs: 86_400_000, now: NOW };

function pathFrom(sender: typeof alice, receiver: typeof bob): string {
  return formatPath({ receiver: receiver.messagingId, sender: sender.messagingId, recordId: rng.bytes(16) });
}

describe('relay acknowledgements and audit', () => {
  it('opens an acknowledgement its receiver sealed to the sender, with the receipt it carries', () => {
    const path = pathFrom(alice, bob);
    const receipt = rng.bytes(300);
    const content = sealAck(
      crypto,
      bob,
      recipientKeys(alice.document),
      { relay, path, at: NOW, receipt },
      options,
    );
    const ack = openAck(crypto, alice, content, NOW);
    assert.ok(ack.ok, JSON.stringify(ack));
    assert.equal(ack.value.path, path);
    assert.deepEqual(ack.value.receiver, bob.messagingId);
    assert.deepEqual(ack.value.receipt, receipt);
    assert.equal(ACK_TAG, 'ack');
  });

  it('refuses an acknowledgement of a record to someone else, or from someone else, or not for us', () => {
    // Carol claims to have received a record that went to Bob.
    const bobs = pathFrom(alice, bob);
    const byCarol = sealAck(
      crypto,
      carol,
      recipientKeys(alice.document),
      { relay, path: bobs, at: NOW, receipt: null },
      options,
    );
    assert.equal(openAck(crypto, alice, byCarol, NOW).ok, false);
    // Bob acknowledges a record Carol sent him, to Alice.
    const carols = pathFrom(carol, bob);
    const wrongSender = sealAck(
      crypto,
      bob,
      recipientKeys(alice.document),
      { relay, path: carols, at: NOW, receipt: null },
      options,
    );
    assert.equal(openAck(crypto, alice, wrongSender, NOW).ok, false);
    // Sealed to Carol: Alice cannot open it.
    const notOurs = sealAck(
      crypto,
      bob,
      recipientKeys(carol.document),
      { relay, path: bobs, at: NOW, receipt: null },
      options,
    );
    assert.equal(openAck(crypto, alice, notOurs, NOW).ok, false);
    // Any changed byte breaks the receiver's signature.
    const good = sealAck(
      crypto,
      bob,
      recipientKeys(alice.document),
      { relay, path: bobs, at: NOW, receipt: null },
      options,
    );
    const changed = good.slice();
    changed[changed.length - 100] = (changed[changed.length - 100] as number) ^ 1;
    assert.equal(openAck(crypto, alice, changed, NOW).ok, false);
  });

  it('sets each record charged beside its acknowledgement, per relay', () => {
    const delivered = pathFrom(alice, bob);
    const unconfirmed = pathFrom(alice, bob);
    const uncharged = pathFrom(alice, bob);
    const entry = (path: string, ts: number) => ({
      receiver: bob.messagingId,
      path: parsed(path),
      ts,
      bytes: 500,
    });
    const usage = [
      { relay, entries: [entry(delivered, 1), entry(delivered, 2), entry(unconfirmed, 3)] },
      {
        relay: other,
        entries: [entry(delivered, 4), { ...entry(delivered, 5), receiver: carol.messagingId }],
      },
    ];
    const acks = [
      { relay, path: delivered, at: 10, receipt: null },
      { relay, path: delivered, at: 5, receipt: null },
      { relay, path: uncharged, at: 7, receipt: null },
    ];
    const rows = auditDeliveries(usage, acks);
    const find = (r: Uint8Array, p: string) => rows.find((row) => row.relay === r && row.path === p);
    assert.deepEqual(
      [
        find(relay, delivered)?.charged,
        find(relay, delivered)?.chargedBytes,
        find(relay, delivered)?.deliveredAt,
      ],
      [2, 1000, 5],
    );
    assert.deepEqual(
      [find(relay, unconfirmed)?.charged, find(relay, unconfirmed)?.deliveredAt],
      [1, undefined],
    );
    assert.deepEqual([find(relay, uncharged)?.charged, find(relay, uncharged)?.deliveredAt], [0, 7]);
    assert.deepEqual([find(other, delivered)?.charged, find(other, delivered)?.deliveredAt], [1, undefined]);
    assert.equal(rows.length, 4);
  });
});

function parsed(path: string) {
  const read = parsePath(path);
  assert.ok(read.ok);
  return read.value;
}
