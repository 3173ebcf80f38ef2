// Kademlia machines on a deterministic in-memory network: bootstrap, lookups that find the true k
// closest, stores and quorum reads, read repair, dead nodes, and forged records. Seeds are fixed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex, utf8 } from '@postern/core';
import {
  DEFAULT_KADEMLIA_LIMITS,
  SIM_WALL_EPOCH_MS,
  type KademliaMachine,
  type SignedRecord,
  compareDistance,
  decodeMessage,
  encodeMessage,
  recordKey,
  signRecord,
} from '../src/index.ts';
import { Net } from './net.ts';

const HOUR = 3_600_000;

/** n nodes, each bootstrapping through the first as it joins. */
function network(seed: string, n: number): { net: Net; nodes: KademliaMachine[] } {
  const net = new Net(seed);
  const nodes: KademliaMachine[] = [];
  for (let i = 0; i < n; i++) {
    const node = net.add();
    if (i > 0) {
      node.bootstrap([net.contact(nodes[0] as KademliaMachine)], net.now);
      net.drain(node);
      net.run();
    }
    nodes.push(node);
  }
  return { net, nodes };
}

function record(net: Net, seq: number, value: string): { record: SignedRecord; key: Uint8Array } {
  const owner = net.crypto.ed25519KeyPairFromSeed(new Uint8Array(32).fill(7));
  const r = signRecord(
    net.crypto,
    owner.secretKey,
    { salt: utf8('identity'), seq, value: utf8(value), expiresAtMs: SIM_WALL_EPOCH_MS + net.now + HOUR },
    DEFAULT_KADEMLIA_LIMITS,
  );
  return { record: r, key: recordKey(net.crypto, owner.publicKey, utf8('identity')) };
}

describe('kademlia machines (seed "kad-net", 150 nodes)', () => {
  const { net, nodes } = network('kad-net', 150);

  it('fills routing tables by bootstrapping through one node', () => {
    const sizes = nodes.map((n) => n.table.size);
    assert.ok(Math.min(...sizes) >= 20, `smallest table ${Math.min(...sizes)}`);
  });

  it('finds the true k closest nodes to random targets', () => {
    const ids = nodes.map((n) => n.self);
    for (let q = 0; q < 30; q++) {
      const from = nodes[net.rng.int(nodes.length)] as KademliaMachine;
      const target = net.rng.bytes(32);
      from.findNode(target, net.now);
      net.drain(from);
      net.run();
      const expected = ids
        .filter((id) => toHex(id) !== toHex(from.self))
        .sort((a, b) => compareDistance(target, a, b))
        .slice(0, 20)
        .map(toHex);
      assert.deepEqual(
        net.last(from, 'nodes-found').closest.map((c) => toHex(c.id)),
        expected,
      );
    }
  });

  it('stores a record on the k closest nodes and reads it back from anywhere', () => {
    const { record: r, key } = record(net, 1, 'hello');
    const writer = nodes[5] as KademliaMachine;
    writer.storeRecord(r, net.now);
    net.drain(writer);
    net.run();
    const stored = net.last(writer, 'stored');
    assert.equal(stored.asked, 20);
    assert.equal(stored.stored, 20);
    for (const reader of [nodes[17], nodes[99], nodes[140]] as KademliaMachine[]) {
      reader.findValue(key, net.now);
      net.drain(reader);
      net.run();
      const found = net.last(reader, 'value-found');
      assert.equal(found.record?.seq, 1);
      assert.ok(found.holders >= 4, `${found.holders} holders answered`);
    }
  });

  it('returns the newest version to a reader and repairs holders of an older one', () => {
    const { record: v2, key } = record(net, 2, 'hello again');
    const wall = () => SIM_WALL_EPOCH_MS + net.now;
    const holders = nodes.filter((n) => n.store.get(key, wall())?.seq === 1);
    assert.equal(holders.length, 20);
    // Half the holders got the new version by themselves; the other half still hold seq 1.
    for (const holder of holders.slice(0, 10)) assert.ok(holder.store.put(key, v2, wall()).ok);
    const reader = nodes[33] as KademliaMachine;
    reader.findValue(key, net.now);
    net.drain(reader);
    net.run();
    assert.equal(net.last(reader, 'value-found').record?.seq, 2);
    const updated = holders.filter((n) => n.store.get(key, wall())?.seq === 2).length;
    assert.ok(updated > 10, `read repair brought ${updated - 10} holders up to date`);
  });

  it('keeps records findable when a fifth of the nodes die', () => {
    const { key } = record(net, 2, 'hello again');
    for (const node of nodes.slice(1)) if (net.rng.float() < 0.2) net.dead.add(toHex(node.self));
    const alive = nodes.filter((n) => !net.dead.has(toHex(n.self)));
    for (const reader of alive.slice(0, 5)) {
      reader.findValue(key, net.now);
      net.drain(reader);
      net.run();
      assert.equal(net.last(reader, 'value-found').record?.seq, 2);
    }
    net.dead.clear();
  });

  it('never returns a forged record as valid, and reports who sent it', () => {
    const { key } = record(net, 2, 'hello again');
    const liar = nodes.find(
      (n) => n.store.get(key, SIM_WALL_EPOCH_MS + net.now) !== undefined,
    ) as KademliaMachine;
    net.tamper = (from, _to, bytes) => {
      if (toHex(from) !== toHex(liar.self)) return bytes;
      const message = decodeMessage(bytes, liar.limits);
      if (!message.ok || message.value.t !== 'value') return bytes;
      const forged = { ...message.value.record, seq: 99, value: utf8('evil') };
      return encodeMessage({ ...message.value, record: forged });
    };
    const reader = nodes[77] as KademliaMachine;
    reader.findValue(key, net.now);
    net.drain(reader);
    net.run();
    net.tamper = undefined;
    const found = net.last(reader, 'value-found');
    assert.equal(found.record?.seq, 2);
    assert.equal(toHex(found.record?.value ?? new Uint8Array()), toHex(utf8('hello again')));
    const blamed = net.events.get(toHex(reader.self))?.filter((e) => e.type === 'peer-misbehaved') ?? [];
    assert.ok(blamed.every((e) => e.type === 'peer-misbehaved' && toHex(e.peer) === toHex(liar.self)));
  });
});

describe('network size estimate', () => {
  it('judges a network of 150 from the closest known nodes: the median node within a factor of 1.5', () => {
    const { nodes } = network('size-estimate', 150);
    const estimates = nodes.map((node) => node.networkSizeEstimate()).sort((a, b) => a - b);
    const median = estimates[Math.floor(estimates.length / 2)] as number;
    console.log(
      `seed size-estimate: estimates of 150 nodes from ${estimates[0]} to ${estimates.at(-1)}, median ${median}`,
    );
    assert.ok(median >= 100 && median <= 225, `median ${median}`);
  });

  it('counts the nodes it knows when it knows fewer than k', () => {
    const { nodes } = network('size-small', 5);
    assert.deepEqual(
      nodes.map((node) => node.networkSizeEstimate()),
      [5, 5, 5, 5, 5],
    );
  });
});
