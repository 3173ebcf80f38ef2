// What the Noise tests share: both providers, hex literals, a seeded RandomSource, and a driver that
// runs a handshake between two HandshakeStates to the end.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fromHex, unwrap, UsageError } from '@postern/core';
import {
  createNobleProvider,
  createSodiumProvider,
  type CryptoProvider,
  type RandomSource,
} from '@postern/crypto';
import {
  createHandshake,
  generateKeyPair,
  type HandshakeState,
  type NoiseKeyPair,
  type NoiseLimits,
  type TransportCipherStates,
} from '../src/index.ts';

export function hex(text: string): Uint8Array {
  return unwrap(fromHex(text));
}

/** A reproducible RandomSource: SHA-256(seed ‖ block counter), cut to the requested length. */
export function seededRandom(seed: number): RandomSource {
  let block = 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 32) {
      const digest = createHash('sha256').update(`${seed}:${block++}`).digest();
      out.set(digest.subarray(0, Math.min(32, length - offset)), offset);
    }
    return out;
  };
}

export function sodium(seed?: number): CryptoProvider {
  return createSodiumProvider(seed === undefined ? {} : { random: seededRandom(seed) });
}

export function noble(seed?: number): CryptoProvider {
  return createNobleProvider(seed === undefined ? {} : { random: seededRandom(seed) });
}

/** Runs a handshake to completion, each side writing when its status says so; returns the payloads read. */
export function completeHandshake(
  a: HandshakeState,
  b: HandshakeState,
  payloads: Uint8Array[] = [],
): Uint8Array[] {
  const received: Uint8Array[] = [];
  for (let i = 0; !(a.isComplete && b.isComplete); i++) {
    assert.ok(i < 8, 'a handshake has at most a few messages');
    const [writer, reader] = a.status === 'write' ? [a, b] : [b, a];
    assert.equal(reader.status, 'read');
    const read = reader.readMessage(writer.writeMessage(payloads[i]));
    assert.ok(read.ok, `message ${i} reads: ${JSON.stringify(read)}`);
    received.push(read.value);
  }
  return received;
}

/** Low-order X25519 points (RFC 7748 §5, libsodium's list): 0, 1 and p − 1; no DH with them gives a secret. */
export const LOW_ORDER_POINTS: readonly Uint8Array[] = [
  '00'.repeat(32),
  '01' + '00'.repeat(31),
  'ec' + 'ff'.repeat(30) + '7f',
].map(hex);

export function assertUsageError(f: () => unknown, code: string): void {
  assert.throws(f, (e: unknown) => e instanceof UsageError && e.code === code, `expected UsageError ${code}`);
}

export interface Parties {
  readonly initiator: HandshakeState;
  readonly responder: HandshakeState;
  readonly initiatorStatic: NoiseKeyPair;
  readonly responderStatic: NoiseKeyPair;
}

/**
 * An initiator and a responder for a protocol name, given exactly the keys its pattern needs, read off
 * the pattern's letters (§7.5): N no static key, K pre-shared, X and I sent; one-way patterns pre-share
 * the responder's. `responderCrypto` lets the two sides run on different providers.
 */
export function partiesFor(
  crypto: CryptoProvider,
  protocolName: string,
  options: {
    responderCrypto?: CryptoProvider;
    psks?: Uint8Array[];
    prologue?: Uint8Array;
    limits?: Partial<NoiseLimits>;
  } = {},
): Parties {
  const [, patternName = ''] = protocolName.split('_');
  const base = /^[A-Z0-9]+/.exec(patternName)?.[0].replaceAll('1', '') ?? '';
  const initiatorLetter = base[0];
  const responderLetter = base.length === 1 ? 'K' : base[1];
  const pskCount = patternName.split('psk').length - 1;
  const psks = options.psks ?? Array.from({ length: pskCount }, (_, i) => new Uint8Array(32).fill(i + 1));
  const responderCrypto = options.responderCrypto ?? crypto;
  const initiatorStatic = generateKeyPair(crypto);
  const responderStatic = generateKeyPair(responderCrypto);
  const common = { protocolName, psks, prologue: options.prologue, limits: options.limits };
  const initiator = createHandshake(crypto, {
    ...common,
    initiator: true,
    staticKeyPair: initiatorLetter === 'N' ? undefined : initiatorStatic,
    remoteStaticKey: responderLetter === 'K' ? responderStatic.publicKey : undefined,
  });
  const responder = createHandshake(responderCrypto, {
    ...common,
    initiator: false,
    staticKeyPair: responderLetter === 'N' ? undefined : responderStatic,
    remoteStaticKey: initiatorLetter === 'K' ? initiatorStatic.publicKey : undefined,
  });
  return { initiator, responder, initiatorStatic, responderStatic };
}

/** A finished handshake's transport: the initiator's and the responder's CipherStates. */
export function transportFor(
  crypto: CryptoProvider,
  protocolName: string,
  limits?: Partial<NoiseLimits>,
): { initiator: TransportCipherStates; responder: TransportCipherStates } {
  const { initiator, responder } = partiesFor(crypto, protocolName, limits === undefined ? {} : { limits });
  completeHandshake(initiator, responder);
  return { initiator: initiator.split(), responder: responder.split() };
}
