// Bounds and fault attribution: nominations stop at the document's limit, strangers cannot fill an
// inbox, a request that finds no room is sent later, a restarted replicant keeps the time it
// promised, and an envelope its sender spoiled is blamed on the sender, not the replicant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Millis, bytesEqual, utf8 } from '@postern/core';
import { seal } from '@postern/envelope';
import { IdentityLimits } from '@postern/identity';
import { encodeReplicantMessage } from '../src/index.ts';
import { Net, type User, WALL_EPOCH_MS } from './net.ts';

const DAY = 24 * 3_600_000;
const SEND = { ttlMs: DAY, isReplicated: true } as const;

function users(net: Net, names: readonly string[]): User[] {
  return names.map((n) => net.add(n));
}

/** Bob nominates Carol, who accepts. */
function replicant(net: Net, bob: User, carol: User): void {
  net.act(bob, (m, now) => m.nominate(carol.identity.messagingId, now));
  net.runFor(1_000);
  net.act(carol, (m, now) => m.answerNomination(bob.identity.messagingId, true, now));
  net.runFor(1_000);
}

describe('replicant bounds', () => {
  it('counts outstanding nominations against the 8 replicants a document may list', () => {
    const net = new Net('nominations');
    const [bob, ...others] = users(net, ['bob', ...Array.from({ length: 9 }, (_, i) => `r${i}`)]);
    for (const r of others) net.befriend(bob as User, r);
    for (const r of others.slice(0, IdentityLimits.replicantsMax)) {
      net.act(bob as User, (m, now) => m.nominate(r.identity.messagingId, now));
    }
    assert.throws(
      () => net.act(bob as User, (m, now) => m.nominate((others[8] as User).identity.messagingId, now)),
      { code: 'REPLICANT_TOO_MANY' },
    );
    net.runFor(1_000);
    for (const r of others.slice(0, 8))
      net.act(r, (m, now) => m.answerNomination((bob as User).identity.messagingId, true, now));
    net.runFor(10_000);
    assert.equal(net.up(bob as User).identity.document.replicants.length, 8);
  });

  it('lets strangers fill only their share of an inbox, and the application free it', () => {
    const net = new Net('strangers', { strangerMessagesMax: 2 });
    const [bob, stranger] = users(net, ['bob', 'stranger']) as [User, User];
    // The stranger knows Bob's document (from the directory) and reach; Bob does not know it.
    net.act(stranger, (m, now) =>
      m.addContact(bob.identity.document, now, { reach: { node: bob.node, addrs: [] } }),
    );
    for (let i = 0; i < 3; i++)
      net.act(stranger, (m, now) => m.send(bob.identity.messagingId, utf8(`s${i}`), SEND, now));
    net.runFor(5_000);
    assert.equal(net.up(bob).inbox.messages.size, 2, 'the third is refused: REPLICANT_STRANGERS_FULL');
    assert.equal(net.up(bob).inbox.fromStrangers, 2);
    const [first] = net.up(bob).inbox.messages.keys();
    assert.ok(net.act(bob, (m) => m.deleteMessage(first as string)));
    net.runFor(2 * 3_600_000); // the stranger retries
    assert.equal(net.events(bob, 'message').length, 3);
  });

  it('sends later what found no room among requests in flight', () => {
    const net = new Net('rpc room', { rpcsInFlightMax: 3 });
    const [bob, ...contacts] = users(net, ['bob', ...Array.from({ length: 8 }, (_, i) => `c${i}`)]);
    for (const c of contacts) net.befriend(bob as User, c);
    net.runFor(60_000);
    const heard = contacts.filter((c) =>
      net.events(c, 'contact-online').some((e) => bytesEqual(e.id, (bob as User).identity.messagingId)),
    );
    assert.equal(heard.length, contacts.length);
  });

  it('keeps an envelope until the time its store-ack promised, across a restart', () => {
    const net = new Net('promise');
    const [alice, bob, carol] = users(net, ['alice', 'bob', 'carol']) as [User, User, User];
    net.befriend(alice, bob);
    net.befriend(bob, carol);
    replicant(net, bob, carol);
    net.crash(bob);
    net.crash(carol);
    // Ten days' TTL; Carol is away four days, then takes it: under her 7-day cap from then on.
    const key = net.act(alice, (m, now) =>
      m.send(bob.identity.messagingId, utf8('ten days'), { ttlMs: 10 * DAY, isReplicated: true }, now),
    );
    assert.ok(key.ok);
    net.runFor(4 * DAY);
    net.start(carol);
    net.runFor(3 * 3_600_000);
    const promised = net.up(carol).holder.get(key.value)?.until;
    net.crash(alice);
    net.crash(carol);
    net.start(carol);
    assert.equal(net.up(carol).holder.get(key.value)?.until, promised);
    net.runFor(3.5 * DAY); // day 7.5, Alice still away
    net.start(bob);
    net.runFor(3_600_000);
    assert.equal(net.events(bob, 'message').length, 1);
  });

  it('blames the sender, not the replicant, for an envelope sealed so it cannot be opened; the replicant drops it', () => {
    const net = new Net('blame');
    const [mallory, bob, carol, dave] = users(net, ['mallory', 'bob', 'carol', 'dave']) as [
      User,
      User,
      User,
      User,
    ];
    net.befriend(bob, carol);
    replicant(net, bob, carol);
    net.crash(bob);
    // Signed by Mallory, addressed to Bob, sealed to Dave's key: Carol cannot tell, Bob cannot open it.
    const keys = {
      messagingId: bob.identity.messagingId,
      encryptionKey: dave.identity.document.encryptionKey,
    };
    const env = seal(net.crypto, mallory.identity, keys, utf8('x'), {
      ...SEND,
      now: (WALL_EPOCH_MS + net.now) as Millis,
    });
    net.act(carol, (m, now) =>
      m.handleReceive(mallory.node, encodeReplicantMessage({ t: 'hold', rid: 1, env }), now),
    );
    assert.equal(net.up(carol).holder.heldCount, 1);
    net.start(bob);
    net.runFor(3_600_000);
    assert.equal(net.events(bob, 'peer-misbehaved').filter((e) => bytesEqual(e.peer, carol.node)).length, 0);
    const blamed = net.events(bob, 'sender-misbehaved');
    assert.equal(blamed.length, 1);
    assert.ok(bytesEqual(blamed[0]?.sender as Uint8Array, mallory.identity.messagingId));
    assert.deepEqual(
      net.events(carol, 'held').map((e) => e.change),
      ['stored', 'refused'],
    );
  });
});
