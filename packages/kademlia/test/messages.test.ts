// The RPC codec: every message kind round-trips, sizes are bounded, and any bytes decode without throwing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type NodeId, Rng, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  DEFAULT_KADEMLIA_LIMITS as limits,
  type KadMessage,
  decodeMessage,
  encodeMessage,
  messageBytesMax,
  signRecord,
} from '../src/index.ts';

const rng = Rng.fromSeed('messages');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const owner = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const record = signRecord(
  crypto,
  owner.secretKey,
  {
    salt: utf8('identity'),
    seq: 7,
    value: new Uint8Array(limits.recordValueBytesMax),
    expiresAtMs: 1_790_000_000_000,
  },
  limits,
);
const contact = (i: number) => ({
  id: rng.bytes(32) as NodeId,
  addresses: [`tcp://127.0.0.1:${7000 + i}`, `ws://[::1]:${8000 + i}`],
});

const samples: KadMessage[] = [
  { t: 'ping', rid: 0 },
  { t: 'pong', rid: 0xffff_ffff },
  { t: 'find_node', rid: 1, target: rng.bytes(32) },
  { t: 'find_value', rid: 2, key: rng.bytes(32) },
  { t: 'nodes', rid: 3, nodes: Array.from({ length: limits.bucketSize }, (_, i) => contact(i)) },
  { t: 'nodes', rid: 4, nodes: [] },
  { t: 'value', rid: 5, record, nodes: [contact(1)] },
  { t: 'store', rid: 6, record },
  { t: 'stored', rid: 6, result: 'RECORD_BAD_SIGNATURE' },
];

describe('kademlia messages', () => {
  it('round-trips every kind of message', () => {
    for (const message of samples) {
      assert.deepEqual(decodeMessage(encodeMessage(message), limits), { ok: true, value: message });
    }
  });

  it('keeps every message within messageBytesMax', () => {
    const largest = Math.max(...samples.map((m) => encodeMessage(m).length));
    assert.ok(largest <= messageBytesMax(limits), `${largest} > ${messageBytesMax(limits)}`);
  });

  it('refuses more than k contacts, ids of the wrong size, unknown kinds and extra fields', () => {
    const tooMany: KadMessage = {
      t: 'nodes',
      rid: 1,
      nodes: Array.from({ length: limits.bucketSize + 1 }, (_, i) => contact(i)),
    };
    const shortId: KadMessage = { t: 'find_node', rid: 1, target: new Uint8Array(31) };
    for (const bad of [tooMany, shortId]) assert.equal(decodeMessage(encodeMessage(bad), limits).ok, false);
    const unknown = encodeMessage({ t: 'ping', rid: 1 }).map((b) => b); // 'ping' → 'pinh'
    unknown[unknown.indexOf(0x67)] = 0x68;
    assert.equal(decodeMessage(unknown, limits).ok, false);
  });

  it('decodes random bytes and mutated messages without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        decodeMessage(bytes, limits);
      }),
      { numRuns: 5000 },
    );
    const encoded = samples.map(encodeMessage);
    fc.assert(
      fc.property(
        fc.nat(encoded.length - 1),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (which, at, flip) => {
          const bytes = (encoded[which] as Uint8Array).slice();
          bytes[at % bytes.length] = (bytes[at % bytes.length] as number) ^ flip;
          decodeMessage(bytes, limits);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
