// Creating a HandshakeState: protocol names that are refused and why, and keys checked against what
// the pattern needs for the role (missing, unexpected, wrong length, mismatched pair, low order).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex, UsageError } from '@postern/core';
import { createHandshake, generateKeyPair } from '../src/index.ts';
import { assertUsageError, LOW_ORDER_POINTS, sodium } from './helpers.ts';

const XX = 'Noise_XX_25519_ChaChaPoly_BLAKE2b';
const IK = 'Noise_IK_25519_ChaChaPoly_BLAKE2b';
const NN = 'Noise_NN_25519_ChaChaPoly_SHA256';
const crypto = sodium();

describe('creation', () => {
  const keys = generateKeyPair(crypto);
  const cases: [string, () => unknown, string][] = [
    [
      'XX without a static key',
      () => createHandshake(crypto, { protocolName: XX, initiator: true }),
      'NOISE_MISSING_KEY',
    ],
    [
      'IK without the remote static key',
      () => createHandshake(crypto, { protocolName: IK, initiator: true, staticKeyPair: keys }),
      'NOISE_MISSING_KEY',
    ],
    [
      'NN with a static key',
      () => createHandshake(crypto, { protocolName: NN, initiator: true, staticKeyPair: keys }),
      'NOISE_UNEXPECTED_KEY',
    ],
    [
      'XX with a remote static key (it would not be checked)',
      () =>
        createHandshake(crypto, {
          protocolName: XX,
          initiator: true,
          staticKeyPair: keys,
          remoteStaticKey: keys.publicKey,
        }),
      'NOISE_UNEXPECTED_KEY',
    ],
    [
      'an N responder with an ephemeral key',
      () =>
        createHandshake(crypto, {
          protocolName: 'Noise_N_25519_ChaChaPoly_SHA256',
          initiator: false,
          staticKeyPair: keys,
          ephemeralKeyPair: keys,
        }),
      'NOISE_UNEXPECTED_KEY',
    ],
    [
      'a psk pattern without its psk',
      () =>
        createHandshake(crypto, { protocolName: 'Noise_NNpsk0_25519_ChaChaPoly_SHA256', initiator: true }),
      'NOISE_BAD_PSKS',
    ],
    [
      'a psk of 31 bytes',
      () =>
        createHandshake(crypto, {
          protocolName: 'Noise_NNpsk0_25519_ChaChaPoly_SHA256',
          initiator: true,
          psks: [new Uint8Array(31)],
        }),
      'NOISE_BAD_KEY_LENGTH',
    ],
    [
      "a key pair whose public key is another secret key's",
      () =>
        createHandshake(crypto, {
          protocolName: XX,
          initiator: true,
          staticKeyPair: { secretKey: keys.secretKey, publicKey: generateKeyPair(crypto).publicKey },
        }),
      'NOISE_BAD_KEY_PAIR',
    ],
    ...LOW_ORDER_POINTS.map((point): [string, () => unknown, string] => [
      `a low-order remote static key ${toHex(point).slice(0, 8)}…`,
      () =>
        createHandshake(crypto, {
          protocolName: IK,
          initiator: true,
          staticKeyPair: keys,
          remoteStaticKey: point,
        }),
      'NOISE_BAD_KEY',
    ]),
  ];
  for (const [what, create, code] of cases) {
    it(`refuses ${what} with ${code}`, () => assertUsageError(create, code));
  }

  const names: [string, RegExp][] = [
    ['Noise_XX_25519_ChaChaPoly_BLAKE2s', /hash BLAKE2s is not supported/],
    ['Noise_XX_25519_AESGCM_SHA256', /cipher AESGCM is not supported/],
    ['Noise_XX_448_ChaChaPoly_SHA512', /DH 448 is not supported/],
    ['Noise_XX_25519_ChaChaPoly_SHA1', /unknown hash 'SHA1'/],
    ['Noise_XY_25519_ChaChaPoly_SHA256', /unknown Noise handshake pattern 'XY'/],
    ['Noise_XXfallback_25519_ChaChaPoly_SHA256', /modifier 'fallback'/],
    ['Noise_NNpsk3_25519_ChaChaPoly_SHA256', /psk3 is repeated or names a message past/],
    ['Noise_NNpsk0+psk0_25519_ChaChaPoly_SHA256', /psk0 is repeated/],
    ['XX_25519_ChaChaPoly_SHA256', /a name looks like Noise_XX_25519_ChaChaPoly_BLAKE2b/],
    ['Noise_constructor_25519_ChaChaPoly_SHA256', /unknown Noise handshake pattern/],
  ];
  for (const [protocolName, reason] of names) {
    it(`refuses ${protocolName} and says why`, () => {
      assert.throws(
        () => createHandshake(crypto, { protocolName, initiator: true }),
        (e: unknown) =>
          e instanceof UsageError && e.code === 'NOISE_UNSUPPORTED_PROTOCOL' && reason.test(e.message),
      );
    });
  }
});
