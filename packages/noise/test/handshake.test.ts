// Behaviour of HandshakeState: complete handshakes (and across providers), turn-taking and misuse,
// tampering that kills the handshake, low-order and wrong keys, and the 65535-byte message limit.
// Creation checks are in handshake-creation.test.ts, transport in cipher-state.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesEqual, toHex, utf8 } from '@postern/core';
import { createHandshake, generateKeyPair, patternNames, type HandshakeState } from '../src/index.ts';
import {
  assertUsageError,
  completeHandshake,
  LOW_ORDER_POINTS,
  noble,
  partiesFor,
  sodium,
  type Parties,
} from './helpers.ts';

const XX = 'Noise_XX_25519_ChaChaPoly_BLAKE2b';
const IK = 'Noise_IK_25519_ChaChaPoly_BLAKE2b';
const NN = 'Noise_NN_25519_ChaChaPoly_SHA256';
const crypto = sodium();

describe('completing handshakes', () => {
  for (const name of [XX, IK]) {
    it(`completes ${name} with payloads, equal hashes, learned static keys and working transport`, () => {
      const { initiator, responder, initiatorStatic, responderStatic } = partiesFor(crypto, name);
      const payloads = [utf8('one'), utf8('two'), utf8('three')];
      const received = completeHandshake(initiator, responder, payloads);
      assert.deepEqual(received, payloads.slice(0, received.length));
      assert.ok(bytesEqual(initiator.handshakeHash, responder.handshakeHash));
      assert.equal(toHex(initiator.remoteStaticKey ?? new Uint8Array()), toHex(responderStatic.publicKey));
      assert.equal(toHex(responder.remoteStaticKey ?? new Uint8Array()), toHex(initiatorStatic.publicKey));
      const i = initiator.split();
      const r = responder.split();
      assert.deepEqual(i.handshakeHash, r.handshakeHash);
      const opened = r.receive.decrypt(i.send.encrypt(utf8('ping')));
      assert.deepEqual(opened, { ok: true, value: utf8('ping') });
      assert.deepEqual(i.receive.decrypt(r.send.encrypt(utf8('pong'))), { ok: true, value: utf8('pong') });
    });
  }

  for (const [a, b] of [
    [sodium(), noble()],
    [noble(), sodium()],
  ] as const) {
    it(`interoperates across providers: ${a.name} initiator, ${b.name} responder`, () => {
      for (const name of [XX, IK]) {
        const { initiator, responder } = partiesFor(a, name, { responderCrypto: b });
        completeHandshake(initiator, responder);
        const i = initiator.split();
        const r = responder.split();
        assert.deepEqual(r.receive.decrypt(i.send.encrypt(utf8('x'))), { ok: true, value: utf8('x') });
        assert.deepEqual(i.receive.decrypt(r.send.encrypt(utf8('y'))), { ok: true, value: utf8('y') });
      }
    });
  }

  it('completes every pattern of the table, plain and with psk modifiers, with every hash', () => {
    let completed = 0;
    for (const pattern of patternNames()) {
      for (const suffix of ['', 'psk0', 'psk1', 'psk0+psk1']) {
        for (const hash of ['SHA256', 'SHA512', 'BLAKE2b']) {
          const { initiator, responder } = partiesFor(
            crypto,
            `Noise_${pattern}${suffix}_25519_ChaChaPoly_${hash}`,
          );
          completeHandshake(initiator, responder, [utf8('a'), utf8('b'), utf8('c')]);
          assert.deepEqual(initiator.handshakeHash, responder.handshakeHash);
          completed += 1;
        }
      }
    }
    assert.equal(completed, 38 * 4 * 3);
  });

  it('repeats a handshake byte for byte under a seeded provider', () => {
    const run = (): string[] => {
      const seeded = sodium(42);
      const { initiator, responder } = partiesFor(seeded, XX);
      const messages: string[] = [];
      while (!initiator.isComplete) {
        const [w, r] = initiator.status === 'write' ? [initiator, responder] : [responder, initiator];
        const message = w.writeMessage();
        messages.push(toHex(message));
        assert.ok(r.readMessage(message).ok);
      }
      return messages;
    };
    assert.deepEqual(run(), run());
  });
});

describe('turns and misuse', () => {
  it('refuses to write out of turn, after the end, and to split early or twice', () => {
    const { initiator, responder } = partiesFor(crypto, XX);
    assertUsageError(() => responder.writeMessage(), 'NOISE_NOT_MY_TURN');
    assertUsageError(() => initiator.split(), 'NOISE_HANDSHAKE_NOT_DONE');
    assertUsageError(() => initiator.handshakeHash, 'NOISE_HANDSHAKE_NOT_DONE');
    assert.ok(responder.readMessage(initiator.writeMessage()).ok);
    assertUsageError(() => initiator.writeMessage(), 'NOISE_NOT_MY_TURN');
    completeHandshake(initiator, responder);
    assertUsageError(() => initiator.writeMessage(), 'NOISE_HANDSHAKE_DONE');
    initiator.split();
    assertUsageError(() => initiator.split(), 'NOISE_ALREADY_SPLIT');
  });

  it('answers a message it does not expect with an error: it fails a handshake in progress', () => {
    const { initiator } = partiesFor(crypto, NN);
    const unexpected = { ok: false, error: { code: 'NOISE_UNEXPECTED_MESSAGE', status: 'write' } };
    assert.deepEqual(initiator.readMessage(new Uint8Array(48)), unexpected); // the initiator speaks first
    assert.equal(initiator.status, 'failed');
  });

  it('answers a message after completion with an error and stays complete', () => {
    const { initiator, responder } = partiesFor(crypto, NN);
    completeHandshake(initiator, responder);
    const late = initiator.readMessage(new Uint8Array(48));
    assert.deepEqual(late, { ok: false, error: { code: 'NOISE_UNEXPECTED_MESSAGE', status: 'complete' } });
    assert.equal(initiator.status, 'complete');
    assert.deepEqual(initiator.split().handshakeHash, responder.split().handshakeHash);
  });

  it('refuses a payload that would make a message over 65535 bytes, and stays usable', () => {
    const { initiator, responder } = partiesFor(crypto, NN);
    assertUsageError(
      () => initiator.writeMessage(new Uint8Array(65_535 - 32 + 1)),
      'NOISE_PAYLOAD_TOO_LARGE',
    );
    const largest = initiator.writeMessage(new Uint8Array(65_535 - 32)); // -> e: no key yet, no tag
    assert.equal(largest.length, 65_535);
    assert.ok(responder.readMessage(largest).ok);
  });
});

/** Plays messages 0..index−1 normally, then writes message `index` without delivering it. */
function writeUpTo(parties: Parties, index: number): { message: Uint8Array; reader: HandshakeState } {
  const { initiator, responder } = parties;
  for (let i = 0; ; i++) {
    const [writer, reader] = initiator.status === 'write' ? [initiator, responder] : [responder, initiator];
    const message = writer.writeMessage(utf8('payload'));
    if (i === index) return { message, reader };
    assert.ok(reader.readMessage(message).ok);
  }
}

const FAILED = { ok: false, error: { code: 'NOISE_HANDSHAKE_FAILED' } };

describe('bad messages', () => {
  it('fails on any tampered byte of an XX or IK message, and stays failed', () => {
    // XX's first message is a bare ephemeral key and a clear payload: tampering with it shows one
    // message later. Every byte of the other messages is flipped in turn.
    for (const [name, index] of [
      [XX, 1],
      [XX, 2],
      [IK, 0],
      [IK, 1],
    ] as const) {
      const { length } = writeUpTo(partiesFor(crypto, name), index).message;
      for (let byte = 0; byte < length; byte++) {
        const { message, reader } = writeUpTo(partiesFor(crypto, name), index);
        message[byte] = (message[byte] ?? 0) ^ 0x01;
        const read = reader.readMessage(message);
        assert.ok(!read.ok, `${name} message ${index}, byte ${byte} flipped`);
        assert.ok(['NOISE_DECRYPT_FAILED', 'NOISE_BAD_KEY'].includes(read.error.code), read.error.code);
        assert.equal(reader.status, 'failed');
        assert.deepEqual(reader.readMessage(message), FAILED);
        assertUsageError(() => reader.writeMessage(), 'NOISE_HANDSHAKE_FAILED');
      }
    }
  });

  it('reports a truncated message, and one over 65535 bytes, by their lengths', () => {
    const { message } = writeUpTo(partiesFor(crypto, XX), 1); // e (32) + s (32 + 16) + payload + tag (16)
    for (let length = 0; length < message.length; length++) {
      const { reader } = writeUpTo(partiesFor(crypto, XX), 1);
      const read = reader.readMessage(message.subarray(0, length));
      const expected = length < 96 ? 'NOISE_TRUNCATED' : 'NOISE_DECRYPT_FAILED';
      assert.equal(read.ok ? 'ok' : read.error.code, expected, `length ${length}`);
      if (length === 95)
        assert.deepEqual(read, { ok: false, error: { code: expected, lengthBytes: 95, minBytes: 96 } });
    }
    const { reader } = writeUpTo(partiesFor(crypto, XX), 1);
    assert.deepEqual(reader.readMessage(new Uint8Array(65_536)), {
      ok: false,
      error: { code: 'NOISE_MESSAGE_TOO_LARGE', lengthBytes: 65_536, maxBytes: 65_535 },
    });
  });

  it('refuses low-order ephemeral keys where they arrive, whether or not this message uses them', () => {
    for (const point of LOW_ORDER_POINTS) {
      // NN's first message: the responder only uses e when it writes, so the key is checked on arrival.
      const nn = partiesFor(crypto, NN);
      assert.deepEqual(nn.responder.readMessage(point), { ok: false, error: { code: 'NOISE_BAD_KEY' } });
      // XX's second message: 'e, ee' uses the key at once.
      const { message, reader } = writeUpTo(partiesFor(crypto, XX), 1);
      message.set(point, 0);
      assert.deepEqual(reader.readMessage(message), { ok: false, error: { code: 'NOISE_BAD_KEY' } });
    }
  });

  it('fails at the responder when an IK initiator uses the wrong remote static key', () => {
    const { responder } = partiesFor(crypto, IK);
    const initiator = createHandshake(crypto, {
      protocolName: IK,
      initiator: true,
      staticKeyPair: generateKeyPair(crypto),
      remoteStaticKey: generateKeyPair(crypto).publicKey,
    });
    assert.deepEqual(responder.readMessage(initiator.writeMessage()), {
      ok: false,
      error: { code: 'NOISE_DECRYPT_FAILED' },
    });
  });

  it('fails when the two sides hold different psks or prologues', () => {
    const name = 'Noise_NNpsk0_25519_ChaChaPoly_SHA256';
    const psk = partiesFor(crypto, name);
    const other = partiesFor(crypto, name, { psks: [new Uint8Array(32).fill(9)] });
    assert.equal(other.responder.readMessage(psk.initiator.writeMessage()).ok, false);
    const a = partiesFor(crypto, XX, { prologue: utf8('v1') });
    const b = partiesFor(crypto, XX, { prologue: utf8('v2') });
    assert.ok(b.responder.readMessage(a.initiator.writeMessage()).ok); // nothing encrypted yet
    assert.deepEqual(a.initiator.readMessage(b.responder.writeMessage()), {
      ok: false,
      error: { code: 'NOISE_DECRYPT_FAILED' },
    });
  });
});
