import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesEqual, fromUtf8, toHex, unwrap, utf8 } from '@postern/core';
import { decodeReplicantMessage, encodeReplicantMessage } from '../src/index.ts';
import { Net, type User } from './net.ts';

const DAY = 24 * 3_600_000;
const SEND = { ttlMs: 3 * DAY, isReplicated: true } as const;

/** Alice, Bob, Carol and Dave, all contacts of each other, all online. */
function world(seed: string) {
  const net = new Net(seed);
  const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map((n) => net.add(n)) as [
    User,
    User,
    User,
    User,
  ];
  for (const [a, b] of [
    [alice, bob],
    [alice, carol],
    [bob, carol],
    [bob, dave],
  ] as const)
    net.befriend(a, b);
  net.runFor(1_000);
  return { net, alice, bob, carol, dave };
}

/** Bob nominates the given contacts; each accepts. */
function nominate(net: Net, bob: User, replicants: readonly User[]): void {
  for (const r of replicants) net.act(bob, (m, now) => m.nominate(r.identity.messagingId, now));
  net.runFor(1_000);
  for (const r of replicants) {
    assert.equal(net.events(r, 'nomination-request').length, 1, `${r.name} was asked`);
    net.act(r, (m, now) => m.answerNomination(bob.identity.messagingId, true, now));
  }
  net.runFor(1_000);
}

function inboxTexts(net: Net, user: User): string[] {
  return net.events(user, 'message').map((e) => unwrap(fromUtf8(e.content)));
}

function states(net: Net, user: User, key: string): string[] {
  return net
    .events(user, 'outbox')
    .filter((e) => e.key === key)
    .map((e) => e.state);
}

describe('ReplicantMachine', () => {
  it('delivers directly to an online contact, which sends a signed receipt back', () => {
    const { net, alice, bob } = world('direct');
    const key = net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8('hello'), SEND, now));
    assert.ok(key.ok);
    net.runFor(1_000);
    assert.deepEqual(inboxTexts(net, bob), ['hello']);
    assert.equal(net.events(bob, 'message')[0]?.via, 'direct');
    assert.deepEqual(states(net, alice, key.value), ['queued', 'delivered']);
  });

  it('publishes an accepted replicant in a new identity document and tells contacts', () => {
    const { net, alice, bob, carol } = world('nominate');
    nominate(net, bob, [carol]);
    const doc = net.up(bob).identity.document;
    assert.equal(doc.seq, 1);
    assert.deepEqual(doc.replicants.map(toHex), [toHex(carol.identity.messagingId)]);
    assert.equal(net.events(bob, 'identity-changed').length, 1);
    const known = net.up(alice).contact(bob.identity.messagingId);
    assert.equal(known?.document.seq, 1);
    assert.equal(known?.tickets.length, 1, 'alice holds carol’s ticket for bob');
  });

  it('hands the envelope to a replicant while the recipient is offline and delivers it on return', () => {
    const { net, alice, bob, carol } = world('offline');
    nominate(net, bob, [carol]);
    net.crash(bob);
    const key = net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8('while away'), SEND, now));
    assert.ok(key.ok);
    net.runFor(60_000);
    assert.deepEqual(states(net, alice, key.value), ['queued', 'stored']);
    assert.equal(net.up(carol).holder.heldCount, 1);
    net.crash(alice); // only Carol can deliver now
    net.start(bob);
    net.runFor(60_000);
    assert.deepEqual(inboxTexts(net, bob), ['while away']);
    assert.equal(net.events(bob, 'message')[0]?.via, 'replicant');
    assert.equal(net.up(carol).holder.heldCount, 0, 'carol deleted it on the receipt');
    net.start(alice);
    net.runFor(60_000);
    assert.deepEqual(states(net, alice, key.value), ['queued', 'stored', 'delivered']);
  });

  it('catches a replicant that flips any byte, and still gets the message intact through another', () => {
    const { net, alice, bob, carol, dave } = world('tamper');
    nominate(net, bob, [carol, dave]);
    net.crash(bob);
    const key = net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8('intact'), SEND, now));
    assert.ok(key.ok);
    net.runFor(60_000);
    const held = net.up(carol).holder.get(key.value);
    assert.ok(held);
    // Every single-byte change Carol could make is refused by Bob and delivers nothing.
    net.start(bob);
    net.crash(dave);
    net.crash(carol);
    for (let i = 0; i < held.env.length; i++) {
      const flipped = held.env.slice();
      flipped[i] = (flipped[i] as number) ^ 0x01;
      const bytes = encodeReplicantMessage({ t: 'deliver', rid: 7, env: flipped });
      net.act(bob, (m, now) => m.handleReceive(carol.node, bytes, now));
    }
    assert.deepEqual(inboxTexts(net, bob), [], 'no altered envelope was accepted');
    const caught = net.events(bob, 'peer-misbehaved').filter((e) => bytesEqual(e.peer, carol.node));
    assert.ok(
      caught.length > held.env.length * 0.9,
      `most flips are named as misbehaviour (${caught.length})`,
    );
    // Carol keeps flipping a byte of what she delivers; Dave delivers the real one.
    net.intercept = (from, _to, bytes) => (from === carol ? flipEnvelopeByte(bytes) : bytes);
    net.start(carol);
    net.start(dave);
    net.act(bob, (m, now) => m.announce(now));
    net.runFor(120_000);
    assert.deepEqual(inboxTexts(net, bob), ['intact']);
    assert.deepEqual(states(net, alice, key.value), ['queued', 'stored', 'delivered']);
  });

  it('answers "full" when a user’s quota is reached, and the sender keeps the message queued', () => {
    const net = new Net('quota', { heldEnvelopesPerUserMax: 1 });
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => net.add(n)) as [User, User, User];
    net.befriend(alice, bob);
    net.befriend(bob, carol);
    net.befriend(alice, carol);
    nominate(net, bob, [carol]);
    net.crash(bob);
    const first = net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8('one'), SEND, now));
    const second = net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8('two'), SEND, now));
    net.runFor(60_000);
    assert.ok(first.ok && second.ok);
    assert.deepEqual(states(net, alice, first.value), ['queued', 'stored']);
    assert.deepEqual(states(net, alice, second.value), ['queued']);
    net.start(bob);
    net.runFor(2 * 3_600_000);
    assert.deepEqual(inboxTexts(net, bob).sort(), ['one', 'two']);
  });

  it('reports a message that outlives its TTL as expired, and its replicant drops it', () => {
    const { net, alice, bob, carol } = world('expiry');
    nominate(net, bob, [carol]);
    net.crash(bob);
    const key = net.act(alice, (m, now) =>
      m.send(bob.identity.messagingId, utf8('short-lived'), { ttlMs: 3_600_000, isReplicated: true }, now),
    );
    assert.ok(key.ok);
    net.runFor(2 * 3_600_000);
    assert.deepEqual(states(net, alice, key.value), ['queued', 'stored', 'expired']);
    assert.equal(net.up(carol).holder.heldCount, 0);
    assert.deepEqual(
      net.events(carol, 'held').map((e) => e.change),
      ['stored', 'expired'],
    );
  });

  it('keeps what a replicant acknowledged across its crash and delivers it after restart', () => {
    const { net, alice, bob, carol } = world('crash');
    nominate(net, bob, [carol]);
    net.crash(bob);
    const key = net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8('durable'), SEND, now));
    net.runFor(60_000);
    assert.ok(key.ok);
    assert.deepEqual(states(net, alice, key.value), ['queued', 'stored']);
    net.crash(carol);
    net.start(carol);
    net.crash(alice);
    net.start(bob);
    net.runFor(60_000);
    assert.deepEqual(inboxTexts(net, bob), ['durable']);
    net.start(alice);
    net.runFor(60_000);
    const delivered = net
      .events(alice, 'outbox')
      .filter((e) => e.key === key.value && e.state === 'delivered');
    assert.equal(delivered.length, 1, 'alice learns of the delivery when she comes back');
  });

  it('delivers each envelope once to the application, whatever number of copies arrive', () => {
    const { net, alice, bob, carol, dave } = world('dedupe');
    nominate(net, bob, [carol, dave]);
    net.crash(bob);
    for (let i = 0; i < 5; i++)
      net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8(`m${i}`), SEND, now));
    net.runFor(60_000);
    assert.equal(net.up(carol).holder.heldCount, 5);
    assert.equal(net.up(dave).holder.heldCount, 5);
    net.start(bob);
    net.runFor(60_000);
    assert.deepEqual(inboxTexts(net, bob).sort(), ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(net.up(carol).holder.heldCount + net.up(dave).holder.heldCount, 0);
  });

  it('takes a revoked replicant off the document and stops it holding new envelopes', () => {
    const { net, alice, bob, carol } = world('revoke');
    nominate(net, bob, [carol]);
    net.act(bob, (m, now) => m.revoke(carol.identity.messagingId, now));
    net.runFor(1_000);
    assert.equal(net.up(bob).identity.document.replicants.length, 0);
    assert.equal(net.up(bob).identity.document.seq, 2);
    assert.equal(net.events(carol, 'duty-revoked').length, 1);
    assert.equal(net.up(alice).contact(bob.identity.messagingId)?.document.seq, 2);
    net.crash(bob);
    const key = net.act(alice, (m, now) => m.send(bob.identity.messagingId, utf8('x'), SEND, now));
    net.runFor(60_000);
    assert.ok(key.ok);
    assert.deepEqual(states(net, alice, key.value), ['queued']);
  });

  it('lets a replicant resign, after which the user publishes a document without it', () => {
    const { net, bob, carol } = world('resign');
    nominate(net, bob, [carol]);
    net.act(carol, (m, now) => m.resign(bob.identity.messagingId, now));
    net.runFor(1_000);
    assert.equal(net.up(bob).identity.document.replicants.length, 0);
    assert.deepEqual(
      net.events(bob, 'nomination-answer').map((e) => e.answer),
      ['accept', 'resign'],
    );
  });

  it('refuses a nomination answer nobody asked for, and presence from strangers', () => {
    const { net, alice, dave } = world('strangers');
    // Alice and Dave are not contacts: Dave's presence is refused.
    const bytes = encodeReplicantMessage({ t: 'presence', rid: 1, p: new Uint8Array(10), reply: false });
    net.act(alice, (m, now) => m.handleReceive(dave.node, bytes, now));
    assert.throws(
      () => net.act(dave, (m, now) => m.answerNomination(alice.identity.messagingId, true, now)),
      /REPLICANT_NOT_A_CONTACT|not one of your contacts/,
    );
  });
});

/** Flips one byte inside the envelope of a `deliver` message (not in its framing). */
function flipEnvelopeByte(bytes: Uint8Array): Uint8Array {
  const message = decodeReplicantMessage(bytes);
  if (!message.ok || message.value.t !== 'deliver') return bytes;
  const env = message.value.env.slice();
  const i = env.length - 100;
  env[i] = (env[i] as number) ^ 0x80;
  return encodeReplicantMessage({ ...message.value, env });
}
