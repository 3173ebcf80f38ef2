// The cacophony vectors (github.com/haskell-cryptography/cacophony, vectors/cacophony.txt): every
// vector on 25519 + ChaChaPoly + (SHA256 | SHA512 | BLAKE2b). Both sides are run from the vector's
// keys: each handshake message must come out byte for byte when written and give the payload back
// when read, the handshake hashes must match, and so must the transport messages after the handshake
// (alternating from the initiator; one-way patterns send from the initiator only). Every other vector
// (BLAKE2s, AESGCM, 448) must be refused as unsupported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex, UsageError } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { readVectorJson } from '@postern/testkit';
import { createHandshake, keyPairFromSecret, type HandshakeState } from '../src/index.ts';
import { hex, noble, sodium } from './helpers.ts';

interface Vector {
  readonly protocol_name: string;
  readonly init_prologue: string;
  readonly init_static?: string;
  readonly init_ephemeral: string;
  readonly init_remote_static?: string;
  readonly init_psks?: readonly string[];
  readonly resp_prologue: string;
  readonly resp_static?: string;
  readonly resp_ephemeral?: string;
  readonly resp_remote_static?: string;
  readonly resp_psks?: readonly string[];
  readonly handshake_hash: string;
  readonly messages: readonly { readonly payload: string; readonly ciphertext: string }[];
}

const { vectors } = readVectorJson<{ vectors: readonly Vector[] }>('noise/cacophony.json');
const SUPPORTED = /^Noise_\w+_25519_ChaChaPoly_(SHA256|SHA512|BLAKE2b)$/;
const supported = vectors.filter((v) => SUPPORTED.test(v.protocol_name));
const unsupported = vectors.filter((v) => !SUPPORTED.test(v.protocol_name));
const EXPECTED_SUPPORTED = 177;

function side(crypto: CryptoProvider, v: Vector, initiator: boolean): HandshakeState {
  const p = initiator ? 'init' : 'resp';
  const bytes = (text: string | undefined) => (text === undefined ? undefined : hex(text));
  const pair = (text: string | undefined) =>
    text === undefined ? undefined : keyPairFromSecret(crypto, hex(text));
  return createHandshake(crypto, {
    protocolName: v.protocol_name,
    initiator,
    prologue: hex(v[`${p}_prologue`]),
    staticKeyPair: pair(v[`${p}_static`]),
    ephemeralKeyPair: pair(v[`${p}_ephemeral`]),
    remoteStaticKey: bytes(v[`${p}_remote_static`]),
    psks: v[`${p}_psks`]?.map(hex),
  });
}

function runVector(crypto: CryptoProvider, v: Vector): void {
  const name = v.protocol_name;
  const init = side(crypto, v, true);
  const resp = side(crypto, v, false);
  let index = 0;
  for (; !init.isComplete; index++) {
    const message = v.messages[index];
    assert.ok(message !== undefined, `${name}: the vector covers the handshake`);
    const [writer, reader] = init.status === 'write' ? [init, resp] : [resp, init];
    assert.equal(
      toHex(writer.writeMessage(hex(message.payload))),
      message.ciphertext,
      `${name} #${index} written`,
    );
    const read = reader.readMessage(hex(message.ciphertext));
    assert.ok(read.ok, `${name} #${index} read: ${JSON.stringify(read)}`);
    assert.equal(toHex(read.value), message.payload, `${name} #${index} payload`);
  }
  assert.ok(resp.isComplete, `${name}: both sides complete together`);
  assert.equal(toHex(init.handshakeHash), v.handshake_hash, `${name}: initiator's handshake hash`);
  assert.equal(toHex(resp.handshakeHash), v.handshake_hash, `${name}: responder's handshake hash`);
  const i = init.split();
  const r = resp.split();
  const oneWay = /^Noise_[NKX](psk\d)?_/.test(name);
  assert.ok(index < v.messages.length, `${name}: the vector has transport messages`);
  for (; index < v.messages.length; index++) {
    const message = v.messages[index];
    assert.ok(message !== undefined);
    const [send, receive] = oneWay || index % 2 === 0 ? [i.send, r.receive] : [r.send, i.receive];
    assert.equal(toHex(send.encrypt(hex(message.payload))), message.ciphertext, `${name} #${index} sealed`);
    const opened = receive.decrypt(hex(message.ciphertext));
    assert.ok(opened.ok, `${name} #${index} opens`);
    assert.equal(toHex(opened.value), message.payload, `${name} #${index} transport payload`);
  }
}

function report(provider: CryptoProvider, ran: readonly Vector[]): void {
  const byHash = ['SHA256', 'SHA512', 'BLAKE2b']
    .map((h) => `${ran.filter((v) => v.protocol_name.endsWith(`_${h}`)).length} ${h}`)
    .join(', ');
  console.log(
    `noise-cacophony on ${provider.name}: ${ran.length} vectors ran (${byHash}) of ${vectors.length} in the file; ` +
      `${unsupported.length} skipped as unsupported (BLAKE2s, AESGCM, 448)`,
  );
}

describe('cacophony vectors', () => {
  it('has every vector either supported or refused, and 177 supported', () => {
    assert.equal(supported.length, EXPECTED_SUPPORTED);
    const crypto = sodium();
    for (const v of unsupported) {
      assert.match(v.protocol_name, /_448_|_AESGCM_|_BLAKE2s$/);
      assert.throws(
        () => createHandshake(crypto, { protocolName: v.protocol_name, initiator: true }),
        (e: unknown) => e instanceof UsageError && e.code === 'NOISE_UNSUPPORTED_PROTOCOL',
        v.protocol_name,
      );
    }
  });

  // noble takes ~2.5 s for all of them (sodium-native ~0.25 s): cheap enough to run every vector on both.
  for (const crypto of [sodium(), noble()]) {
    it(`reproduces every supported vector on ${crypto.name}, both sides, byte for byte`, () => {
      let ran = 0;
      for (const v of supported) {
        runVector(crypto, v);
        ran += 1;
      }
      report(crypto, supported);
      assert.equal(ran, EXPECTED_SUPPORTED);
    });
  }
});
