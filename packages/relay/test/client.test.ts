// The client session trusts only what the relay signed, and only records their senders signed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  type RelayMessage,
  RelayClientSession,
  formatPath,
  messageValue,
  signRelayMessage,
} from '../src/index.ts';

const rng = Rng.fromSeed('relay client');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const bob = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const alice = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const relay = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const mallory = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const T = 1_790_000_000_000;

function session() {
  return new RelayClientSession({ crypto, key: bob, relayKey: relay.publicKey, requestTimeoutMs: 1000 });
}
function readRequest(s: RelayClientSession, path = 'x/y/z') {
  const made = s.request({ type: 'read', path }, T);
  assert.ok(made.ok);
  return made.value;
}
function pathOf(m: RelayMessage): string {
  return formatPath({
    receiver: m.to,
    sender: m.from,
    recordId: (m.request as { recordId: Uint8Array }).recordId,
  });
}
function record(from = alice, to = bob.publicKey) {
  return signRelayMessage(crypto, from, to, T, {
    type: 'write',
    recordId: rng.bytes(16),
    ttl: 60_000,
    tag: 'msg',
    content: rng.bytes(20),
  });
}

describe('relay client session', () => {
  it('accepts a record signed by its sender in an answer signed by the relay', () => {
    const s = session();
    const wanted = record();
    const { id, message } = readRequest(s, pathOf(wanted));
    const value = messageValue(wanted);
    const answer = signRelayMessage(crypto, relay, bob.publicKey, T, {
      type: 'result',
      re: message.nonce,
      value,
    });
    const event = s.handleMessage(answer, T);
    assert.ok(event?.type === 'answer' && event.id === id && event.result.ok);
    assert.equal(s.pending, 0);
  });

  it('drops answers signed by another key, and refuses a record its sender did not sign', () => {
    const s = session();
    const real = record();
    const { message } = readRequest(s, pathOf(real));
    const forged = signRelayMessage(crypto, mallory, bob.publicKey, T, {
      type: 'result',
      re: message.nonce,
      value: null,
    });
    assert.equal(s.handleMessage(forged, T)?.type, 'relay-misbehaved');
    assert.equal(s.pending, 1, 'the request still waits for the real answer');
    // The relay (or anyone) changed the record's content: its sender's signature no longer holds.
    const altered = { ...real, request: { ...real.request, content: rng.bytes(20) } } as RelayMessage;
    const answer = signRelayMessage(crypto, relay, bob.publicKey, T, {
      type: 'result',
      re: message.nonce,
      value: messageValue(altered),
    });
    const event = s.handleMessage(answer, T);
    assert.ok(
      event?.type === 'answer' && !event.result.ok && event.result.error.code === 'RELAY_CLIENT_BAD_ANSWER',
    );
  });

  it('refuses a record other than the one asked for, and ignores answers to nothing it asked', () => {
    const s = session();
    const wanted = record();
    for (const other of [record(alice, mallory.publicKey), record()]) {
      const { message } = readRequest(s, pathOf(wanted));
      const value = messageValue(other);
      const answer = signRelayMessage(crypto, relay, bob.publicKey, T, {
        type: 'result',
        re: message.nonce,
        value,
      });
      const event = s.handleMessage(answer, T);
      assert.ok(
        event?.type === 'answer' && !event.result.ok,
        'another signed record is not the one asked for',
      );
    }
    const stray = signRelayMessage(crypto, relay, bob.publicKey, T, {
      type: 'result',
      re: rng.bytes(16),
      value: true,
    });
    assert.equal(s.handleMessage(stray, T), undefined);
  });

  it('fails requests that time out, and refuses more than it may have pending', () => {
    const s = new RelayClientSession({
      crypto,
      key: bob,
      relayKey: relay.publicKey,
      requestTimeoutMs: 1000,
      pendingMax: 2,
    });
    readRequest(s);
    readRequest(s);
    const third = s.request({ type: 'read', path: 'p' }, T);
    assert.ok(!third.ok && third.error.code === 'RELAY_CLIENT_TOO_MANY_REQUESTS');
    assert.equal(s.nextTimeout(), T + 1000);
    assert.deepEqual(s.handleTimeout(T + 999), []);
    const failed = s.handleTimeout(T + 1000);
    assert.equal(failed.length, 2);
    assert.ok(
      failed.every(
        (e) => e.type === 'answer' && !e.result.ok && e.result.error.code === 'RELAY_CLIENT_TIMEOUT',
      ),
    );
  });
  it('is no longer listening once its listen is refused or times out, so it may listen again', () => {
    const s = session();
    const refused = s.request({ type: 'listen', afterTs: 0 }, T);
    assert.ok(refused.ok && s.listening);
    const busy = signRelayMessage(crypto, relay, bob.publicKey, T, {
      type: 'error',
      re: refused.value.message.nonce,
      code: 'RELAY_BUSY',
      error: 'busy',
    });
    const event = s.handleMessage(busy, T);
    assert.ok(event?.type === 'answer' && !event.result.ok && event.result.error.code === 'RELAY_BUSY');
    assert.equal(s.listening, false);
    const unanswered = s.request({ type: 'listen', afterTs: 0 }, T);
    assert.ok(unanswered.ok && s.listening);
    assert.equal(s.handleTimeout(T + 1000).length, 1);
    assert.equal(s.listening, false);
  });
});
