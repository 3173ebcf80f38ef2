import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex, unwrap, UsageError } from '@postern/core';
import { decodeCanonical, encodeCanonical, type WireError, type WireValue } from '../src/index.ts';

function hex(text: string): Uint8Array {
  return unwrap(fromHex(text.replaceAll(' ', '')));
}

function decodeError(bytes: Uint8Array, limits?: Parameters<typeof decodeCanonical>[1]): WireError {
  const result = decodeCanonical(bytes, limits);
  assert.equal(result.ok, false, `expected ${toHex(bytes).slice(0, 40)} to be refused`);
  return result.ok ? assert.fail('unreachable') : result.error;
}

function nested(depth: number): Uint8Array {
  const bytes = new Uint8Array(depth + 1).fill(0x81); // depth one-element arrays around a 0
  bytes[depth] = 0x00;
  return bytes;
}

function throwsNotEncodable(value: unknown, message: RegExp): void {
  assert.throws(
    () => encodeCanonical(value as WireValue),
    (e: unknown) => e instanceof UsageError && e.code === 'WIRE_NOT_ENCODABLE' && message.test(e.message),
  );
}

// RFC 8949 Appendix A, the examples that fall inside Postern's data model.
const rfc8949Examples: [WireValue, string][] = [
  [0, '00'],
  [23, '17'],
  [24, '1818'],
  [100, '1864'],
  [1000, '1903e8'],
  [1000000, '1a000f4240'],
  [1000000000000, '1b000000e8d4a51000'],
  [-1, '20'],
  [-1000, '3903e7'],
  [false, 'f4'],
  [true, 'f5'],
  [null, 'f6'],
  [new Uint8Array([1, 2, 3, 4]), '4401020304'],
  ['', '60'],
  ['IETF', '6449455446'],
  ['\u00fc', '62c3bc'],
  ['\u{10151}', '64f0908591'],
  [[1, [2, 3], [4, 5]], '8301820203820405'],
  [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
  [['a', { b: 'c' }], '826161a161626163'],
];

describe('encodeCanonical and decodeCanonical', () => {
  it('encodes the RFC 8949 Appendix A examples to their listed bytes and decodes them back', () => {
    for (const [value, expected] of rfc8949Examples) {
      assert.equal(toHex(encodeCanonical(value)), expected);
      assert.deepEqual(unwrap(decodeCanonical(hex(expected))), value);
    }
  });

  it('round-trips the safe-integer limits', () => {
    for (const n of [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      assert.equal(unwrap(decodeCanonical(encodeCanonical(n))), n);
    }
    assert.equal(toHex(encodeCanonical(Number.MAX_SAFE_INTEGER)), '1b001fffffffffffff');
  });

  it('gives the same bytes whatever the key insertion order', () => {
    const a = encodeCanonical({ zeta: 1, a: { y: 2, x: 3 }, mm: [] });
    const b = encodeCanonical({ mm: [], a: { x: 3, y: 2 }, zeta: 1 });
    assert.deepEqual(a, b);
  });

  it('orders keys by their encoded bytes, so shorter keys first', () => {
    assert.equal(toHex(encodeCanonical({ aa: 2, b: 1 })), 'a2616201626161 02'.replace(' ', ''));
  });

  it('keeps a leading U+FEFF in text', () => {
    const value = { '\uFEFFk': '\uFEFF' };
    assert.deepEqual(unwrap(decodeCanonical(encodeCanonical(value))), value);
  });

  it('decodes a __proto__ key as an own property, leaving the prototype alone', () => {
    const decoded = unwrap(decodeCanonical(hex('a1 695f5f70726f746f5f5f 01'))) as Record<string, WireValue>;
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.deepEqual(Object.keys(decoded), ['__proto__']);
    assert.deepEqual(encodeCanonical(decoded), hex('a1 695f5f70726f746f5f5f 01'));
  });

  it('returns byte strings that do not share memory with the input', () => {
    const input = hex('43 010203');
    const decoded = unwrap(decodeCanonical(input)) as Uint8Array;
    input[1] = 9;
    assert.deepEqual(decoded, new Uint8Array([1, 2, 3]));
    const fromBuffer = unwrap(decodeCanonical(Buffer.from('43010203', 'hex'))) as Uint8Array;
    assert.equal(Object.getPrototypeOf(fromBuffer), Uint8Array.prototype); // Buffer.slice would alias
  });

  it('returns a plain Uint8Array that owns its memory', () => {
    const bytes = encodeCanonical({ a: 1 });
    assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
    assert.equal(bytes.buffer.byteLength, bytes.length);
  });
});

describe('decodeCanonical refuses', () => {
  const cases: [string, string, Partial<WireError>][] = [
    ['an integer not in its shortest form', '1817', { code: 'WIRE_NON_CANONICAL', offset: 0 }],
    ['a length not in its shortest form', '780161', { code: 'WIRE_NON_CANONICAL', offset: 0 }],
    ['a 64-bit head holding a 32-bit value', '1b00000000ffffffff', { code: 'WIRE_NON_CANONICAL' }],
    ['an indefinite-length array', '9f01ff', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'indefinite-length' }],
    ['an indefinite-length text', '7f6161ff', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'indefinite-length' }],
    ['a stray break', 'ff', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'indefinite-length' }],
    ['a half-precision float', 'f93c00', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'float' }],
    ['a double-precision float', 'fb3ff8000000000000', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'float' }],
    ['a tag', 'c11a514b67b0', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'tag' }],
    ['undefined', 'f7', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'undefined' }],
    ['a simple value', 'f0', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'simple-value' }],
    ['a two-byte simple value', 'f820', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'simple-value' }],
    ['2^53', '1b0020000000000000', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'unsafe-integer' }],
    ['-2^53', '3b001fffffffffffff', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'unsafe-integer' }],
    ['an integer map key', 'a10101', { code: 'WIRE_UNSUPPORTED_TYPE', type: 'non-text-key', offset: 1 }],
    ['a duplicate map key', 'a2616101616102', { code: 'WIRE_DUPLICATE_KEY', key: 'a', offset: 4 }],
    ['unsorted map keys', 'a2616201616102', { code: 'WIRE_NON_CANONICAL', offset: 4 }],
    ['a longer key before a shorter one', 'a2626161016162 02', { code: 'WIRE_NON_CANONICAL', offset: 5 }],
    ['trailing bytes', '0000', { code: 'WIRE_TRAILING_BYTES', offset: 1 }],
    ['empty input', '', { code: 'WIRE_TRUNCATED', offset: 0 }],
    ['a truncated head', '19 01', { code: 'WIRE_TRUNCATED' }],
    ['a truncated string', '6261', { code: 'WIRE_TRUNCATED' }],
    ['an array with fewer items than declared', '8301', { code: 'WIRE_TRUNCATED' }],
    ['an absurd declared length', '9b ffffffffffffffff', { code: 'WIRE_TRUNCATED' }],
    ['reserved additional information', '1c', { code: 'WIRE_MALFORMED' }],
    ['invalid UTF-8', '62c328', { code: 'WIRE_MALFORMED', offset: 0 }],
    ['a UTF-8 encoded surrogate', '63eda080', { code: 'WIRE_MALFORMED' }],
  ];
  for (const [what, bytes, expected] of cases) {
    it(`${what} (${bytes.replaceAll(' ', '') || 'no bytes'})`, () => {
      const error = decodeError(hex(bytes));
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(
          (error as Record<string, unknown>)[key],
          value,
          `${key} of ${JSON.stringify(error)}`,
        );
      }
    });
  }

  it('nesting deeper than maxDepth, and accepts exactly maxDepth', () => {
    assert.deepEqual(decodeError(nested(33)), { code: 'WIRE_TOO_DEEP', offset: 32, max: 32 });
    assert.equal(decodeCanonical(nested(32)).ok, true);
    assert.deepEqual(decodeError(nested(3), { maxDepth: 2 }), { code: 'WIRE_TOO_DEEP', offset: 2, max: 2 });
  });

  it('a million levels of nesting without exhausting the stack', () => {
    assert.equal(decodeError(nested(1_000_000), { maxBytes: 2_000_000 }).code, 'WIRE_TOO_DEEP');
  });

  it('input longer than maxBytes before looking at it', () => {
    const big = new Uint8Array(1024 * 1024 + 1).fill(0xff);
    assert.deepEqual(decodeError(big), { code: 'WIRE_TOO_LARGE', size: big.length, max: 1024 * 1024 });
    assert.deepEqual(decodeError(hex('4401020304'), { maxBytes: 4 }), {
      code: 'WIRE_TOO_LARGE',
      size: 5,
      max: 4,
    });
  });

  it('more items than maxItems, counting map keys', () => {
    assert.equal(decodeCanonical(hex('820102'), { maxItems: 3 }).ok, true);
    assert.deepEqual(decodeError(hex('83010203'), { maxItems: 3 }), {
      code: 'WIRE_TOO_MANY_ITEMS',
      offset: 3,
      max: 3,
    });
    assert.equal(decodeError(hex('a1616101'), { maxItems: 2 }).code, 'WIRE_TOO_MANY_ITEMS');
  });
});

describe('encodeCanonical throws UsageError WIRE_NOT_ENCODABLE for', () => {
  it('floats, non-finite numbers and unsafe integers', () => {
    throwsNotEncodable(1.5, /1\.5 is not a safe integer/);
    throwsNotEncodable({ a: [NaN] }, /value\.a\.0: NaN/);
    throwsNotEncodable(Infinity, /Infinity/);
    throwsNotEncodable(2 ** 53, /not a safe integer/);
  });

  it('undefined, bigint, holes and objects outside the model', () => {
    throwsNotEncodable({ a: undefined }, /value\.a: a value of type undefined/);
    throwsNotEncodable(1n, /bigint/);
    throwsNotEncodable([1, , 3], /value\.1/); // eslint-disable-line no-sparse-arrays
    throwsNotEncodable(new Map(), /instance of Map/);
    throwsNotEncodable({ at: new Date(0) }, /instance of Date/);
    throwsNotEncodable(new Uint16Array(2), /instance of Uint16Array/);
  });

  it('text with a lone surrogate, which UTF-8 cannot carry', () => {
    throwsNotEncodable('a\uD800', /lone surrogate/);
    assert.equal(toHex(encodeCanonical('\u{1F600}')), '64f09f9880');
  });

  it('values nested deeper than maxDepth, cycles included', () => {
    let deep: WireValue = 0;
    for (let i = 0; i < 33; i++) deep = [deep];
    throwsNotEncodable(deep, /nesting deeper than 32/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    throwsNotEncodable(cycle, /nesting deeper/);
  });

  it('encodings above maxBytes', () => {
    throwsNotEncodable(new Uint8Array(1024 * 1024), /above the limit/);
  });

  it('no value at all when the limits are nonsense', () => {
    assert.throws(() => encodeCanonical(0, { maxDepth: 100_000 }), { code: 'WIRE_BAD_LIMIT' });
    assert.throws(() => decodeCanonical(hex('00'), { maxBytes: -1 }), { code: 'WIRE_BAD_LIMIT' });
  });

  it('nothing for -0, which encodes as 0', () => {
    assert.equal(toHex(encodeCanonical(-0)), '00');
  });
});
