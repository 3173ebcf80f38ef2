// Peers that answer out of turn or lie about contacts: a wrong kind of answer fails that RPC and
// names the peer (the query still ends), read repair reaches every holder of an older version
// whatever order answers come in, hearsay never replaces addresses a node announced itself, and
// contacts the codec could not carry never reach the table; a store with nobody to ask keeps the record here; a node nobody answered
// tries to join again.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, type NodeId, Rng, toHex, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  type KadMessage,
  KademliaMachine,
  type KademliaEvent,
  decodeMessage,
  encodeMessage,
  recordKey,
  signRecord,
} from '../src/index.ts';

const rng = Rng.fromSeed('machine-review');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const EPOCH = 1_790_000_000_000;
const T0 = 0 as Millis;

function machine(limits = {}): KademliaMachine {
  return new KademliaMachine({
    self: rng.bytes(32) as NodeId,
    crypto,
    rng: rng.fork('m'),
    wallClockOffsetMs: EPOCH,
    limits,
    now: T0,
  });
}

/** Drains outputs: transmits decoded, and events. */
function drain(m: KademliaMachine): { sent: { to: NodeId; message: KadMessage }[]; events: KademliaEvent[] } {
  const sent: { to: NodeId; message: KadMessage }[] = [];
  const events: KademliaEvent[] = [];
  for (let i = 0; i < 10_000; i++) {
    const o = m.pollOutput();
    if (o.type === 'timeout') break;
    if (o.type === 'event') events.push(o.event);
    else sent.push({ to: o.to, message: (decodeMessage(o.bytes, m.limits) as { value: KadMessage }).value });
  }
  return { sent, events };
}

const peer = (port: number) => ({ id: rng.bytes(32) as NodeId, addresses: [`tcp://127.0.0.1:${port}`] });

describe('kademlia machine against misbehaving peers', () => {
  it('fails an RPC answered with the wrong kind of message, names the peer, and still ends the query', () => {
    const m = machine();
    const liar = peer(7001);
    m.findNode(rng.bytes(32), T0); // nothing known yet: ends at once
    drain(m);
    m.bootstrap([liar], T0);
    const { sent } = drain(m);
    const request = sent.find((s) => s.message.t === 'find_node');
    assert.ok(request);
    m.handleReceive(liar.id, encodeMessage({ t: 'pong', rid: request.message.rid }), T0);
    const { events } = drain(m);
    assert.ok(events.some((e) => e.type === 'peer-misbehaved' && e.peer === liar.id));
    assert.ok(
      events.some((e) => e.type === 'nodes-found'),
      'the lookup ended',
    );
  });

  it('repairs every holder of an older version, even one that answered before the newest arrived', () => {
    const m = machine();
    const owner = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
    const version = (seq: number) =>
      signRecord(
        crypto,
        owner.secretKey,
        { salt: utf8('x'), seq, value: utf8(`v${seq}`), expiresAtMs: EPOCH + 3_600_000 },
        m.limits,
      );
    const key = recordKey(crypto, owner.publicKey, utf8('x'));
    const [old, fresh] = [peer(7002), peer(7003)];
    for (const p of [old, fresh]) m.peerConnected(p, T0);
    drain(m);
    m.findValue(key, T0);
    const asked = drain(m).sent.filter((s) => s.message.t === 'find_value');
    assert.equal(asked.length, 2);
    const answer = (to: NodeId, seq: number) => {
      const request = asked.find((s) => toHex(s.to) === toHex(to));
      m.handleReceive(
        to,
        encodeMessage({ t: 'value', rid: request?.message.rid ?? 0, record: version(seq), nodes: [] }),
        T0,
      );
    };
    answer(old.id, 1); // the older one first
    answer(fresh.id, 2);
    const { sent, events } = drain(m);
    assert.equal(events.find((e) => e.type === 'value-found')?.type, 'value-found');
    const repairs = sent.filter((s) => s.message.t === 'store');
    assert.deepEqual(
      repairs.map((s) => toHex(s.to)),
      [toHex(old.id)],
    );
  });

  it('keeps the addresses a peer announced itself when others claim it lives elsewhere', () => {
    const m = machine();
    const [honest, gossip] = [peer(7004), peer(7005)];
    m.peerConnected(honest, T0);
    m.peerConnected(gossip, T0);
    drain(m);
    m.findNode(rng.bytes(32), T0);
    const requests = drain(m).sent.filter((s) => s.message.t === 'find_node');
    const toGossip = requests.find((s) => toHex(s.to) === toHex(gossip.id));
    assert.ok(toGossip);
    m.handleReceive(
      gossip.id,
      encodeMessage({
        t: 'nodes',
        rid: toGossip.message.rid,
        nodes: [{ id: honest.id, addresses: ['tcp://evil:2'] }],
      }),
      T0,
    );
    drain(m);
    assert.deepEqual(m.addressesOf(honest.id), honest.addresses);
    assert.deepEqual(m.table.contact(honest.id)?.addresses, honest.addresses);
  });

  it('tries to join again, later and later, while its bootstrap node does not answer', () => {
    const m = machine();
    const seed = peer(7007);
    m.bootstrap([seed], T0);
    let now: number = T0;
    const tries: number[] = [];
    for (let step = 0; step < 20 && tries.length < 4; step++) {
      const { sent } = drain(m);
      if (sent.some((s) => s.message.t === 'find_node' && toHex(s.to) === toHex(seed.id))) tries.push(now);
      const next = m.pollOutput();
      assert.equal(next.type, 'timeout');
      now = (next as { at: number }).at;
      m.handleTimeout(now as Millis);
    }
    assert.equal(tries.length, 4, `asked ${tries.length} times`);
    const gaps = tries.slice(1).map((t, i) => t - (tries[i] as number));
    assert.ok(
      gaps.every((g, i) => i === 0 || g > (gaps[i - 1] as number)),
      `the waits grow: ${gaps.join(', ')} ms`,
    );
    // Once it answers, the node has joined and stops retrying.
    drain(m);
    m.bootstrap([seed], now as Millis);
    const ask = drain(m).sent.find((s) => s.message.t === 'find_node');
    assert.ok(ask);
    m.handleReceive(seed.id, encodeMessage({ t: 'nodes', rid: ask.message.rid, nodes: [] }), now as Millis);
    drain(m);
    m.handleTimeout((now + 10 * 60_000) as Millis);
    assert.deepEqual(drain(m).sent, [], 'no join tries once the table holds the seed');
  });

  it('stores a record on itself alone when it knows nobody yet (a lookup that ends at once)', () => {
    const m = machine();
    const owner = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
    const record = signRecord(
      crypto,
      owner.secretKey,
      { salt: utf8('identity'), seq: 1, value: utf8('alone'), expiresAtMs: EPOCH + 3_600_000 },
      m.limits,
    );
    const query = m.storeRecord(record, T0);
    const stored = drain(m).events.find((e) => e.type === 'stored');
    assert.deepEqual(stored && { query: stored.query, stored: stored.stored, asked: stored.asked }, {
      query,
      stored: 1,
      asked: 1,
    });
    assert.equal(m.store.get(recordKey(crypto, owner.publicKey, utf8('identity')), EPOCH)?.seq, 1);
  });

  it('never puts a contact the codec could not carry into its table or its answers', () => {
    const m = machine();
    const none = { id: rng.bytes(32) as NodeId, addresses: [] };
    const many = {
      id: rng.bytes(32) as NodeId,
      addresses: Array.from({ length: 9 }, (_, i) => `tcp://h${i}:1`),
    };
    m.peerConnected(none, T0);
    m.peerConnected(many, T0);
    assert.equal(m.table.has(none.id), false);
    assert.equal(m.table.contact(many.id)?.addresses.length, 4);
    const asker = peer(7006);
    m.peerConnected(asker, T0);
    drain(m);
    m.handleReceive(asker.id, encodeMessage({ t: 'find_node', rid: 9, target: rng.bytes(32) }), T0);
    const answer = drain(m).sent.find((s) => s.message.t === 'nodes');
    assert.ok(answer, 'the answer decodes');
  });
});
