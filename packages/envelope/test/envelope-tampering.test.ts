import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Millis, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { createIdentity, recipientKeys } from '@postern/identity';
import { type EnvelopeError, EnvelopeLimits, open, seal } from '../src/index.ts';

const NOW = 1_790_000_000_000 as Millis;
const crypto = createSodiumProvider();
const alice = createIdentity(crypto, { label: 'Alice' });
const bob = createIdentity(crypto, { label: 'Bob' });
const envelope = seal(crypto, alice, recipientKeys(bob.document), utf8('meet at noon'), {
  ttlMs: 60_000,
  isReplicated: true,
  now: NOW,
});

function tally(codes: Map<string, number>, error: EnvelopeError): void {
  codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
}

describe('tampered, truncated and random envelopes', () => {
  it('detects a flip of any bit in any byte, with a typed error', () => {
    const codes = new Map<string, number>();
    for (let i = 0; i < envelope.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const tampered = envelope.slice();
        tampered[i] = (tampered[i] as number) ^ bit;
        const result = open(crypto, bob, tampered, NOW);
        assert.equal(result.ok, false, `flip at byte ${i}`);
        if (!result.ok) tally(codes, result.error);
      }
    }
    // Almost every flip lands in signed bytes; the rest break the CBOR structure itself.
    assert.ok((codes.get('ENVELOPE_BAD_SIGNATURE') ?? 0) > envelope.length, JSON.stringify([...codes]));
    console.log(
      `${envelope.length * 2} flipped envelopes, all refused: ${JSON.stringify(Object.fromEntries(codes))}`,
    );
  });

  it('reports every truncation as truncated', () => {
    for (let length = 0; length < envelope.length; length++) {
      const result = open(crypto, bob, envelope.subarray(0, length), NOW);
      assert.deepEqual(result, { ok: false, error: { code: 'ENVELOPE_TRUNCATED' } }, `length ${length}`);
    }
  });

  it('reports trailing bytes and non-minimal encodings as non-canonical', () => {
    const trailing = open(crypto, bob, new Uint8Array([...envelope, 0]), NOW);
    assert.equal(!trailing.ok && trailing.error.code, 'ENVELOPE_NON_CANONICAL');
    // The version 1 written as a one-byte-argument integer (0x18 0x01) instead of the minimal 0x01.
    const nonMinimal = new Uint8Array([envelope[0] as number, 0x18, ...envelope.subarray(1)]);
    const result = open(crypto, bob, nonMinimal, NOW);
    assert.equal(!result.ok && result.error.code, 'ENVELOPE_NON_CANONICAL');
  });

  it('refuses an oversize input before parsing it', () => {
    const result = open(crypto, bob, new Uint8Array(EnvelopeLimits.envelopeBytesMax + 1), NOW);
    assert.deepEqual(result, {
      ok: false,
      error: {
        code: 'ENVELOPE_OVERSIZE',
        size: EnvelopeLimits.envelopeBytesMax + 1,
        max: EnvelopeLimits.envelopeBytesMax,
      },
    });
  });

  it('never throws and never opens random bytes (10,000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => {
        assert.equal(open(crypto, bob, bytes, NOW).ok, false);
      }),
      { numRuns: 10_000 },
    );
  });

  it('never throws and never opens a mutated envelope (10,000 runs)', () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('xor'),
        at: fc.nat(envelope.length - 1),
        value: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({
        kind: fc.constant('insert'),
        at: fc.nat(envelope.length),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('delete'), at: fc.nat(envelope.length - 1), value: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let bytes = Array.from(envelope);
        for (const m of mutations) {
          if (m.kind === 'xor') bytes[m.at % bytes.length] = (bytes[m.at % bytes.length] as number) ^ m.value;
          else if (m.kind === 'insert') bytes.splice(m.at, 0, m.value);
          else bytes = bytes.filter((_, i) => i !== m.at % bytes.length);
        }
        const mutated = Uint8Array.from(bytes);
        const result = open(crypto, bob, mutated, NOW);
        const unchanged = mutated.length === envelope.length && mutated.every((b, i) => b === envelope[i]);
        assert.equal(result.ok, unchanged);
      }),
      { numRuns: 10_000 },
    );
  });
});
