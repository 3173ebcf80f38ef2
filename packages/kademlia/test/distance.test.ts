// XOR distance, common prefixes and bucket targets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareBytes, fromHex, unwrap } from '@postern/core';
import { commonPrefixBits, compareDistance, idInBucket, xorDistance } from '../src/index.ts';

const id = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('distance', () => {
  it('orders ids exactly as comparing their XOR distances as big-endian numbers', () => {
    fc.assert(
      fc.property(id, id, id, (t, a, b) => {
        const expected = Math.sign(compareBytes(xorDistance(a, t), xorDistance(b, t)));
        assert.equal(Math.sign(compareDistance(t, a, b)), expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('counts shared leading bits: 256 for equal ids, the first differing bit otherwise', () => {
    const zero = new Uint8Array(32);
    assert.equal(commonPrefixBits(zero, zero), 256);
    assert.equal(commonPrefixBits(zero, unwrap(fromHex('80'.padEnd(64, '0')))), 0);
    assert.equal(commonPrefixBits(zero, unwrap(fromHex('01'.padEnd(64, '0')))), 7);
    assert.equal(commonPrefixBits(zero, unwrap(fromHex('00'.repeat(31) + '01'))), 255);
  });

  it('builds refresh targets that land in the bucket asked for, whatever the random bytes', () => {
    fc.assert(
      fc.property(id, id, fc.integer({ min: 0, max: 255 }), (self, random, bits) => {
        assert.equal(commonPrefixBits(self, idInBucket(self, bits, random)), bits);
      }),
      { numRuns: 2000 },
    );
  });
});
