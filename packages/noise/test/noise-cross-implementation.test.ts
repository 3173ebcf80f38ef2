// Postern's Noise against an independent implementation, noise-handshake@4.2.0 (Holepunch; sodium,
// BLAKE2b only; patterns NN, NNpsk0, XX, XXpsk0, IK, XK). Each pattern runs both ways round: Postern
// initiator with a noise-handshake responder, and the reverse. Both sides must read each other's
// payloads, learn each other's static keys, agree on the handshake hash, and then carry transport
// messages both ways: Postern's split CipherStates against noise-handshake's own CipherState built on
// its tx/rx keys (tx is the key a side sends with: the initiator's tx is c1, as in Postern).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import NoiseHandshake from 'noise-handshake';
import TheirCipher from 'noise-handshake/cipher';
import { toHex, utf8 } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { createHandshake, generateKeyPair, type HandshakeState } from '../src/index.ts';
import { noble, sodium } from './helpers.ts';

const PATTERNS = ['XX', 'IK', 'NN', 'XK', 'NNpsk0', 'XXpsk0'] as const;
const prologue = utf8('postern cross-implementation');
const psk = new Uint8Array(32).fill(7);
const handshakePayloads = ['hello from the first message', 'and the second', 'third'].map(utf8);

interface Parties {
  readonly postern: HandshakeState;
  readonly theirs: NoiseHandshake;
  readonly posternStatic: Uint8Array;
}

/** One handshake: Postern on one side, noise-handshake on the other, with the keys the pattern needs. */
function setUp(crypto: CryptoProvider, pattern: string, posternInitiates: boolean): Parties {
  const usesStatic = !pattern.startsWith('NN');
  const preSharesResponder = pattern === 'IK' || pattern === 'XK';
  const posternStatic = generateKeyPair(crypto);
  const theirs = new NoiseHandshake(pattern, !posternInitiates, undefined, {
    ...(pattern.includes('psk') ? { psk: Buffer.from(psk) } : {}),
  });
  const postern = createHandshake(crypto, {
    protocolName: `Noise_${pattern}_25519_ChaChaPoly_BLAKE2b`,
    initiator: posternInitiates,
    prologue,
    staticKeyPair: usesStatic ? posternStatic : undefined,
    remoteStaticKey: posternInitiates && preSharesResponder ? new Uint8Array(theirs.s.publicKey) : undefined,
    psks: pattern.includes('psk') ? [psk] : undefined,
  });
  const theirRemote =
    !posternInitiates && preSharesResponder ? Buffer.from(posternStatic.publicKey) : undefined;
  theirs.initialise(Buffer.from(prologue), theirRemote);
  assert.equal(theirs.protocol.toString(), postern.protocolName);
  return { postern, theirs, posternStatic: posternStatic.publicKey };
}

/** Drives the handshake to the end, checking every payload arrives intact on the other side. */
function handshake({ postern, theirs }: Parties): void {
  for (let i = 0; !postern.isComplete; i++) {
    const payload = handshakePayloads[i % handshakePayloads.length] ?? new Uint8Array(0);
    if (postern.status === 'write') {
      const received = theirs.recv(Buffer.from(postern.writeMessage(payload)));
      assert.equal(toHex(received), toHex(payload), `message ${i}: noise-handshake reads Postern's payload`);
    } else {
      const read = postern.readMessage(new Uint8Array(theirs.send(Buffer.from(payload))));
      assert.ok(read.ok, `message ${i}: Postern reads noise-handshake's message: ${JSON.stringify(read)}`);
      assert.equal(toHex(read.value), toHex(payload), `message ${i}: Postern reads the payload`);
    }
  }
  assert.ok(theirs.complete, 'both sides complete together');
}

/** Transport both ways: our send against their rx, their tx against our receive, several rounds. */
function exchange(ours: ReturnType<HandshakeState['split']>, theirs: NoiseHandshake, rounds: number): void {
  assert.ok(theirs.tx !== null && theirs.rx !== null);
  const theirSend = new TheirCipher(theirs.tx);
  const theirReceive = new TheirCipher(theirs.rx);
  for (let i = 0; i < rounds; i++) {
    const outbound = utf8(`postern says ${i}`.repeat(i + 1));
    const ad = utf8(`ad ${i}`);
    const opened = theirReceive.decrypt(Buffer.from(ours.send.encrypt(outbound, ad)), Buffer.from(ad));
    assert.equal(toHex(opened), toHex(outbound), `round ${i}: noise-handshake opens Postern's message`);
    const inbound = Buffer.from(`noise-handshake says ${i}`);
    const read = ours.receive.decrypt(new Uint8Array(theirSend.encrypt(inbound)));
    assert.ok(read.ok, `round ${i}: Postern opens noise-handshake's message`);
    assert.equal(toHex(read.value), toHex(inbound));
  }
  assert.equal(ours.send.nonce, rounds);
  assert.equal(ours.receive.nonce, rounds);
}

for (const crypto of [sodium(), noble()]) {
  describe(`Postern (${crypto.name}) against noise-handshake`, () => {
    for (const pattern of PATTERNS) {
      for (const posternInitiates of [true, false]) {
        const roles = posternInitiates ? 'Postern initiates' : 'noise-handshake initiates';
        it(`completes ${pattern} (${roles}), agrees on the hash and keys, and carries transport both ways`, () => {
          const parties = setUp(crypto, pattern, posternInitiates);
          handshake(parties);
          const { postern, theirs, posternStatic } = parties;
          assert.ok(theirs.hash !== null);
          assert.equal(toHex(postern.handshakeHash), toHex(theirs.hash));
          if (!pattern.startsWith('NN')) {
            assert.ok(theirs.rs !== null);
            assert.equal(toHex(theirs.rs), toHex(posternStatic));
            assert.equal(toHex(postern.remoteStaticKey ?? new Uint8Array(0)), toHex(theirs.s.publicKey));
          }
          exchange(postern.split(), theirs, 5);
        });
      }
    }
  });
}
