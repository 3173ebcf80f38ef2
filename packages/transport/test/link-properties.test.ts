import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Millis, utf8 } from '@postern/core';
import { Link } from '../src/index.ts';
import { LinkPair, crypto, joined, node } from './link-pair.ts';

describe('a link, fed arbitrary bytes', () => {
  it('never throws on random bytes at the start of a handshake (10,000 runs)', () => {
    const { keys, announcement } = node('bob');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const link = new Link({ crypto, keys, announcement, role: 'responder', now: 0 as Millis });
        link.receive(bytes, 0 as Millis);
        while (link.pollOutput().type !== 'timeout');
      }),
      { numRuns: 10_000 },
    );
  });

  it('never throws on random bytes once established, and closes rather than accept them (2,000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        const pair = new LinkPair();
        pair.pump();
        pair.b.receive(bytes, pair.now);
        pair.drain();
        assert.equal(pair.messages('b').length, 0);
      }),
      { numRuns: 2_000 },
    );
  });

  it('delivers the same messages however the stream is cut into chunks (500 runs)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), (cuts) => {
        const pair = new LinkPair();
        const sent = ['one', 'two', 'x'.repeat(5000), 'four'];
        for (const m of sent) pair.a.send(3, utf8(m));
        // Move everything, cut into the drawn chunk sizes.
        for (let round = 0; round < 50; round++) {
          const fromA = joined(pair.a.pull(1 << 20, pair.now));
          if (fromA) {
            let offset = 0;
            for (let i = 0; offset < fromA.length; i++) {
              const size = cuts[i % cuts.length] as number;
              pair.b.receive(fromA.subarray(offset, offset + size), pair.now);
              offset += size;
            }
          }
          const fromB = joined(pair.b.pull(1 << 20, pair.now));
          if (fromB) pair.a.receive(fromB, pair.now);
          if (!fromA && !fromB) break;
        }
        pair.drain();
        assert.deepEqual(
          pair.messages('b').map((m) => m.text),
          sent,
        );
      }),
      { numRuns: 500 },
    );
  });
});
