import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PORTABLE_BASE64URL } from '@postern/relay';
import { NODE_BASE64URL } from '../src/relay/ws-frames.ts';

describe('base64url on Buffer for relay JSON', () => {
  it('agrees with the portable codec on every byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = NODE_BASE64URL.encode(bytes);
        assert.equal(text, PORTABLE_BASE64URL.encode(bytes));
        assert.deepEqual(NODE_BASE64URL.decode(text), bytes);
      }),
    );
  });

  it('refuses what the portable codec refuses: padding, other alphabets, stray bits, bad lengths', () => {
    for (const text of ['AQ==', 'AQ=', 'a+b/', 'A', 'AR', 'AQI ', ' AQI', 'AQ\n', '!!!!', 'AB', 'AAB']) {
      assert.equal(NODE_BASE64URL.decode(text), PORTABLE_BASE64URL.decode(text), JSON.stringify(text));
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        const node = NODE_BASE64URL.decode(text);
        const portable = PORTABLE_BASE64URL.decode(text);
        assert.deepEqual(node === undefined, portable === undefined, JSON.stringify(text));
      }),
      { numRuns: 5000 },
    );
  });
});
