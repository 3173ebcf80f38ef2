// fast-check arbitraries shared by the wire property tests.
import fc from 'fast-check';
import type { WireValue } from '../src/index.ts';

/** Integers near every CBOR head-size boundary and the safe-integer limits, plus arbitrary ones. */
const boundaryInts = [
  0,
  23,
  24,
  255,
  256,
  65_535,
  65_536,
  0xffff_ffff,
  0x1_0000_0000,
  Number.MAX_SAFE_INTEGER,
];
export const wireInt: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    ...boundaryInts
      .flatMap((n) => [n, -n - 1, -n])
      .filter((n) => Number.isSafeInteger(n) && !Object.is(n, -0)),
  ),
  fc.integer(),
  fc.maxSafeInteger(),
);

/** Any Unicode text, with a leading U+FEFF now and then (TextDecoder strips it unless told not to). */
export const wireText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 4 }).map((s) => `\uFEFF${s}`),
);

const scalar: fc.Arbitrary<WireValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  wireInt,
  wireText,
  fc.uint8Array({ maxLength: 40 }),
);

/** Arbitrary values of the data model, nested a few levels. */
export const wireValue: fc.Arbitrary<WireValue> = fc.letrec<{ value: WireValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    scalar,
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(wireText, tie('value'), { maxKeys: 6, noNullPrototype: true }),
  ),
})).value;
