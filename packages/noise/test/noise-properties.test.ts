// Property tests (fast-check, sodium-native): no bytes make readMessage or CipherState.decrypt throw.
// Inputs are random bytes, genuine messages with a byte flipped or cut short, low-order keys in the
// ephemeral position, and lengths just over 65535; fed at every stage of a handshake, to the side
// that expects a message and to the side that does not, and after completion.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { utf8 } from '@postern/core';
import type { NoiseErrorCode } from '../src/index.ts';
import { LOW_ORDER_POINTS, partiesFor, sodium, transportFor } from './helpers.ts';

const RUNS = 10_000;
const crypto = sodium();
const PROTOCOLS = [
  'XX',
  'IK',
  'NN',
  'KK',
  'XXpsk3',
  'NK1',
  'X1X1',
  'I1K1',
  'IN',
  'N',
  'Xpsk1',
  'NNpsk0+psk2',
].map((pattern, i) => `Noise_${pattern}_25519_ChaChaPoly_${['BLAKE2b', 'SHA256', 'SHA512'][i % 3] ?? ''}`);
const CODES: readonly NoiseErrorCode[] = [
  'NOISE_DECRYPT_FAILED',
  'NOISE_TRUNCATED',
  'NOISE_MESSAGE_TOO_LARGE',
  'NOISE_BAD_KEY',
  'NOISE_UNEXPECTED_MESSAGE',
  'NOISE_NONCE_EXHAUSTED',
];

/** How to turn the genuine message at this point into the bytes we feed. */
type Tamper =
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'cut'; at: number }
  | { kind: 'low-order'; point: number; tail: Uint8Array }
  | { kind: 'huge'; length: number };

const tamper: fc.Arbitrary<Tamper> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('random'), bytes: fc.uint8Array({ maxLength: 300 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('flip'), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cut'), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('low-order'),
      point: fc.nat(2),
      tail: fc.uint8Array({ maxLength: 120 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('huge'), length: fc.integer({ min: 65_536, max: 70_000 }) }),
  },
);

function apply(t: Tamper, genuine: Uint8Array): Uint8Array {
  switch (t.kind) {
    case 'random':
      return t.bytes;
    case 'flip': {
      const out = genuine.slice();
      if (out.length > 0) out[t.at % out.length] = (out[t.at % out.length] ?? 0) ^ t.xor;
      return out.length > 0 ? out : Uint8Array.of(t.xor);
    }
    case 'cut':
      return genuine.subarray(0, t.at % Math.max(genuine.length, 1));
    case 'low-order': {
      const out = new Uint8Array(32 + t.tail.length);
      out.set(LOW_ORDER_POINTS[t.point] ?? new Uint8Array(32));
      out.set(t.tail, 32);
      return out;
    }
    case 'huge':
      return new Uint8Array(t.length);
  }
}

describe('properties', () => {
  it(`readMessage never throws on any bytes at any stage (${RUNS} runs)`, () => {
    const input = fc.record({
      protocol: fc.constantFrom(...PROTOCOLS),
      stage: fc.nat(4),
      toWriter: fc.nat(4).map((n) => n === 0), // a fifth of the time, the side expecting nothing
      tamper,
    });
    fc.assert(
      fc.property(input, ({ protocol, stage, toWriter, tamper: t }) => {
        const { initiator, responder } = partiesFor(crypto, protocol);
        let genuine: Uint8Array = new Uint8Array(0);
        for (let i = 0; i < stage && !initiator.isComplete; i++) {
          const [writer, reader] =
            initiator.status === 'write' ? [initiator, responder] : [responder, initiator];
          genuine = writer.writeMessage(utf8(`payload ${i}`));
          if (i < stage - 1) assert.ok(reader.readMessage(genuine).ok);
        }
        // The side that should read the last written message, or the other one, or either when complete.
        const expecting = initiator.status === 'read' ? initiator : responder;
        const target = toWriter ? (expecting === initiator ? responder : initiator) : expecting;
        const before = target.status;
        const result = target.readMessage(apply(t, genuine));
        if (!result.ok) {
          assert.ok(CODES.includes(result.error.code), result.error.code);
          assert.equal(target.status, before === 'complete' ? 'complete' : 'failed');
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`CipherState.decrypt never throws and never moves the nonce on failure (${RUNS} runs)`, () => {
    const { initiator, responder } = transportFor(crypto, 'Noise_XX_25519_ChaChaPoly_BLAKE2b');
    const genuine = initiator.send.encrypt(utf8('the genuine first message'), utf8('ad'));
    const input = fc.record({
      tamper,
      ad: fc.oneof(fc.constant(utf8('ad')), fc.uint8Array({ maxLength: 40 })),
    });
    fc.assert(
      fc.property(input, ({ tamper: t, ad }) => {
        const result = responder.receive.decrypt(apply(t, genuine), ad);
        assert.ok(!result.ok, 'no forgery opens');
        assert.ok(CODES.includes(result.error.code), result.error.code);
        assert.equal(responder.receive.nonce, 0);
      }),
      { numRuns: RUNS },
    );
    assert.deepEqual(responder.receive.decrypt(genuine, utf8('ad')), {
      ok: true,
      value: utf8('the genuine first message'),
    });
  });
});
