import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, bytesEqual, utf8 } from '@postern/core';
import { Link } from '../src/index.ts';
import { closeRecord } from '../src/records.ts';
import { LinkPair, crypto, joined, node } from './link-pair.ts';

// Behaviours added after a review showed them missing: each test failed before its fix.
describe('a link, hardened', () => {
  it('does not believe a replayed IK first message: the responder never reports the replayer as its peer', () => {
    const alice = node('alice');
    const bob = node('bob');
    const initiator = new Link({
      crypto,
      ...alice,
      role: 'initiator',
      pattern: 'IK',
      remoteStaticKey: bob.keys.staticKey.publicKey,
      now: 0 as Millis,
    });
    const captured = joined(initiator.pull(65_536, 0 as Millis)) as Uint8Array;
    // Mallory replays Alice's first message to a fresh Bob, and cannot do more.
    const victim = new Link({ crypto, ...bob, role: 'responder', now: 0 as Millis });
    victim.receive(captured, 0 as Millis);
    assert.ok(joined(victim.pull(65_536, 0 as Millis)), 'Bob answers');
    const events: string[] = [];
    for (let o = victim.pollOutput(); o.type !== 'timeout'; o = victim.pollOutput())
      if (o.type === 'event') events.push(o.event.type);
    assert.deepEqual(events, [], 'no established event without a record under the new keys');
    assert.deepEqual(victim.send(1, utf8('secret')).ok, true);
    assert.equal(victim.pull(65_536, 0 as Millis).length, 0, 'no data leaves before the peer is confirmed');
    victim.handleTimeout(victim.limits.handshakeTimeoutMs as Millis);
    const closed = victim.pollOutput();
    assert.ok(
      closed.type === 'event' && closed.event.type === 'closed' && closed.event.code === 'HandshakeTimeout',
    );
  });

  it('confirms a live IK initiator with its first record and then carries data', () => {
    const bob = node('bob');
    const pair = new LinkPair({
      initiator: { pattern: 'IK', remoteStaticKey: bob.keys.staticKey.publicKey },
      responder: { ...bob },
    });
    pair.b.send(2, utf8('queued by the responder'));
    pair.pump();
    assert.equal(pair.b.state, 'established');
    assert.deepEqual(pair.messages('a'), [{ protocol: 2, text: 'queued by the responder' }]);
    assert.ok(pair.a.remoteNodeId && bytesEqual(pair.a.remoteNodeId, bob.keys.nodeId));
  });

  it('refuses fragments that are neither full nor final, so reassembly stays bounded', () => {
    // A sender that fragments at 1,000 bytes against a receiver that expects full fragments.
    const pair = new LinkPair({ initiator: { limits: { fragmentBytes: 1000 } } });
    pair.pump();
    pair.a.send(1, new Uint8Array(5000));
    pair.pump();
    assert.equal(pair.closed('b')?.code, 'ProtocolViolation');
    assert.deepEqual(pair.messages('b'), []);
  });

  it('keeps the dead-peer timer, not a zero-delay loop, while a PING waits for its PONG', () => {
    const pair = new LinkPair();
    pair.pump();
    const k = pair.a.limits.keepaliveMs;
    pair.advance(k); // A queues a PING; nothing is pumped, so no PONG comes back
    const next = pair.a.pollOutput();
    assert.ok(
      next.type === 'timeout' && next.at !== undefined && next.at > pair.now,
      `next wake-up ${String(next.type === 'timeout' && next.at)} after now ${pair.now}`,
    );
  });

  it('closes both ways: what the peer had in flight still arrives, then both report the close', () => {
    const pair = new LinkPair();
    pair.pump();
    pair.a.close(pair.now);
    assert.ok(pair.b.send(1, utf8('sent before hearing the close')).ok);
    pair.pump();
    assert.deepEqual(pair.messages('a'), [{ protocol: 1, text: 'sent before hearing the close' }]);
    assert.deepEqual(pair.closed('a'), { type: 'closed', code: 'Normal', detail: 'bye', byPeer: false });
    assert.deepEqual(pair.closed('b'), { type: 'closed', code: 'Normal', detail: 'bye', byPeer: true });
  });

  it('passes a close code to the peer', () => {
    const pair = new LinkPair();
    pair.pump();
    pair.a.close(pair.now, 'Duplicate', 'another link to you won');
    pair.pump();
    assert.equal(pair.closed('b')?.code, 'Duplicate');
    assert.equal(pair.closed('b')?.detail, 'another link to you won');
  });

  it('cuts a CLOSE reason at 200 bytes on a character boundary', () => {
    const record = closeRecord(0, 'é'.repeat(150), true);
    assert.ok(record.payload.length <= 200 && record.payload.length % 2 === 0);
  });
});
