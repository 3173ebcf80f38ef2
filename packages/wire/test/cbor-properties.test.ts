import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeCanonical, encodeCanonical, type WireMap, type WireValue } from '../src/index.ts';
import { wireValue } from './arbitraries.ts';

/** Decoding never throws, and whatever it accepts is exactly the canonical encoding of its result. */
function checkTotal(bytes: Uint8Array): void {
  const result = decodeCanonical(bytes); // a throw here fails the property
  if (result.ok) assert.deepEqual(encodeCanonical(result.value), bytes);
}

/** The same value with every map's keys inserted in reverse order. */
function reverseKeys(value: WireValue): WireValue {
  if (Array.isArray(value)) return (value as readonly WireValue[]).map(reverseKeys);
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  const map = value as WireMap;
  const out: Record<string, WireValue> = {};
  for (const key of Object.keys(map).reverse()) {
    Object.defineProperty(out, key, { value: reverseKeys(map[key] as WireValue), enumerable: true });
  }
  return out;
}

// Bytes that start CBOR items of every kind, so random streams reach deep into the decoder.
const interestingByte = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x20, 0x38, 0x41, 0x61, 0x78, 0x80, 0x81, 0x82, 0x9f),
  fc.constantFrom(0xa0, 0xa1, 0xa2, 0xbf, 0xc0, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfb, 0xff),
);
const cborishBytes = fc.array(interestingByte, { maxLength: 48 }).map((bytes) => Uint8Array.from(bytes));

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'insert'; at: number; byte: number }
  | { kind: 'delete'; at: number }
  | { kind: 'set'; at: number; byte: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: interestingByte }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: interestingByte }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const out = Array.from(bytes);
  const at = out.length === 0 ? 0 : m.at % (out.length + (m.kind === 'insert' ? 1 : 0));
  if (m.kind === 'insert') out.splice(at, 0, m.byte);
  else if (out.length === 0) return bytes;
  else if (m.kind === 'delete') out.splice(at, 1);
  else if (m.kind === 'flip') out[at] = (out[at] ?? 0) ^ (1 << m.bit);
  else out[at] = m.byte;
  return Uint8Array.from(out);
}

describe('canonical CBOR properties', () => {
  it('round-trips every value of the data model', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        const bytes = encodeCanonical(value);
        const decoded = decodeCanonical(bytes);
        assert.ok(decoded.ok, JSON.stringify(decoded));
        assert.deepEqual(decoded.value, value);
      }),
      { numRuns: 2_000 },
    );
  });

  it('encodes the same value to the same bytes whatever the key insertion order', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        assert.deepEqual(encodeCanonical(reverseKeys(value)), encodeCanonical(value));
      }),
      { numRuns: 1_000 },
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => checkTotal(bytes)),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(cborishBytes, (bytes) => checkTotal(bytes)),
      { numRuns: 10_000 },
    );
  });

  it('never throws on mutated valid encodings, and accepts only canonical ones', () => {
    fc.assert(
      fc.property(wireValue, fc.array(mutation, { minLength: 1, maxLength: 3 }), (value, mutations) => {
        checkTotal(mutations.reduce(mutate, encodeCanonical(value)));
      }),
      { numRuns: 10_000 },
    );
  });
});
