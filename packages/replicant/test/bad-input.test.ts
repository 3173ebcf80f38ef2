// What a node does with bad input from the network: a typed refusal or a named misbehaviour, never a
// crash, and nothing it holds is lost or changed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex, utf8 } from '@postern/core';
import { seal } from '@postern/envelope';
import { recipientKeys } from '@postern/identity';
import {
  type ReplicantMessage,
  decodeReplicantMessage,
  encodeReplicantMessage,
  signStatement,
} from '../src/index.ts';
import { Net, type User, WALL_EPOCH_MS } from './net.ts';

const DAY = 86_400_000;

function setup() {
  const net = new Net('bad input');
  const [alice, bob, carol, mallory] = ['alice', 'bob', 'carol', 'mallory'].map((n) => net.add(n)) as [
    User,
    User,
    User,
    User,
  ];
  net.befriend(alice, bob);
  net.befriend(bob, carol);
  net.act(bob, (m, now) => m.nominate(carol.identity.messagingId, now));
  net.runFor(1_000);
  net.act(carol, (m, now) => m.answerNomination(bob.identity.messagingId, true, now));
  net.runFor(1_000);
  return { net, alice, bob, carol, mallory };
}

/** What `from` gets back when it sends `message` to `to` (the first answer), or undefined. */
function ask(net: Net, from: User, to: User, message: ReplicantMessage): ReplicantMessage | undefined {
  const answers: ReplicantMessage[] = [];
  net.intercept = (f, t, bytes) => {
    if (f === to && t === from) {
      const decoded = decodeReplicantMessage(bytes);
      if (decoded.ok) answers.push(decoded.value);
    }
    return bytes;
  };
  net.act(to, (m, now) => m.handleReceive(from.node, encodeReplicantMessage(message), now));
  net.runFor(100);
  net.intercept = undefined;
  return answers.find((a) => a.rid === message.rid);
}

function envelope(net: Net, from: User, to: User, options: { isReplicated?: boolean; ttlMs?: number } = {}) {
  return seal(net.crypto, from.identity, recipientKeys(to.identity.document), utf8('hi'), {
    ttlMs: options.ttlMs ?? DAY,
    isReplicated: options.isReplicated ?? true,
    now: (WALL_EPOCH_MS + net.now) as never,
  });
}

describe('bad input to a replicant machine', () => {
  it('survives any bytes on the wire, naming the sender', () => {
    const { net, carol, mallory } = setup();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        net.act(carol, (m, now) => m.handleReceive(mallory.node, bytes, now));
      }),
      { numRuns: 500 },
    );
    assert.ok(net.events(carol, 'peer-misbehaved').some((e) => e.code === 'REPLICANT_MALFORMED'));
    assert.equal(net.up(carol).holder.heldCount, 0);
  });

  it('refuses to hold for a user it does not serve, without the replicated flag, or beyond the TTL cap', () => {
    const { net, alice, bob, carol, mallory } = setup();
    const code = (m: ReplicantMessage | undefined) => (m?.t === 'refused' ? m.code : m?.t);
    assert.equal(
      code(ask(net, mallory, carol, { t: 'hold', rid: 1, env: envelope(net, mallory, alice) })),
      'REPLICANT_NOT_SERVING',
    );
    const notReplicated = envelope(net, alice, bob, { isReplicated: false });
    assert.equal(
      code(ask(net, alice, carol, { t: 'hold', rid: 2, env: notReplicated })),
      'REPLICANT_NOT_REPLICATED',
    );
    const tooLong = envelope(net, alice, bob, { ttlMs: 20 * DAY });
    assert.equal(code(ask(net, alice, carol, { t: 'hold', rid: 3, env: tooLong })), 'REPLICANT_TTL_TOO_LONG');
    assert.equal(net.up(carol).holder.heldCount, 0);
  });

  it('refuses a forged envelope and names its sender, and keeps the real one when the id is reused', () => {
    const { net, alice, bob, carol, mallory } = setup();
    net.crash(bob); // so Carol keeps what she holds
    const real = envelope(net, alice, bob);
    assert.equal(ask(net, alice, carol, { t: 'hold', rid: 1, env: real })?.t, 'stored');
    const forged = real.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1; // the signature
    const answer = ask(net, mallory, carol, { t: 'hold', rid: 2, env: forged });
    assert.equal(answer?.t === 'refused' && answer.code, 'ENVELOPE_BAD_SIGNATURE');
    assert.ok(net.events(carol, 'peer-misbehaved').some((e) => e.peer === mallory.node));
    const held = net.up(carol).holder.keysFor(toHex(bob.identity.messagingId));
    assert.equal(held.length, 1);
    assert.deepEqual(
      net.up(carol).holder.get(held[0] as string)?.env,
      real,
      'the held bytes are the real ones',
    );
  });

  it('refuses presence that names another node, and role steps from strangers', () => {
    const { net, alice, bob, mallory } = setup();
    // Mallory replays a presence of Bob's (naming Bob's node) over her own link.
    const presence = signStatement(net.crypto, bob.identity, 'presence', {
      node: bob.node,
      addrs: [],
      at: WALL_EPOCH_MS + 1e9,
      doc: new Uint8Array(1),
      tickets: [],
    });
    const replayed = ask(net, mallory, alice, { t: 'presence', rid: 4, p: presence.bytes, reply: false });
    assert.equal(replayed?.t === 'refused' && replayed.code, 'REPLICANT_WRONG_NODE');
    assert.deepEqual(net.up(alice).contact(bob.identity.messagingId)?.reach?.node, bob.node);
    const role = signStatement(net.crypto, mallory.identity, 'role', {
      user: mallory.identity.messagingId,
      replicant: alice.identity.messagingId,
      role: 'nominate',
      terms: { envelopes: 1, bytes: 1, ttlMs: 1 },
      at: 1,
    });
    const stranger = ask(net, mallory, alice, { t: 'role', rid: 5, s: role.bytes, ticket: null });
    assert.equal(stranger?.t === 'refused' && stranger.code, 'REPLICANT_NOT_A_CONTACT');
    assert.equal(net.events(alice, 'nomination-request').length, 0);
  });

  it('ignores answers nobody asked for', () => {
    const { net, alice, mallory } = setup();
    const before = net.up(alice).outbox.size;
    const fake = signStatement(net.crypto, mallory.identity, 'stored', {
      recipient: alice.identity.messagingId,
      sender: alice.identity.messagingId,
      id: new Uint8Array(16),
      digest: new Uint8Array(32),
      until: 1,
    });
    net.act(alice, (m, now) =>
      m.handleReceive(
        mallory.node,
        encodeReplicantMessage({ t: 'stored', rid: 12345, ack: fake.bytes }),
        now,
      ),
    );
    assert.equal(net.up(alice).outbox.size, before);
    assert.equal(net.events(alice, 'outbox').length, 0);
  });
});
