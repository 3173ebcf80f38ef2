import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concatBytes } from '@postern/core';
import { encodeFrame, FrameDecoder } from '../src/index.ts';

/** Cuts `bytes` at the given offsets (taken modulo its length) into consecutive chunks. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort(
    (a, b) => a - b,
  );
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

// Streams that look like frames (small length headers) with garbage mixed in, so random input
// exercises complete frames, partial frames and oversize headers alike.
const frameish = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 24 }).map((payload) => encodeFrame(payload)),
      fc.uint8Array({ maxLength: 12 }),
    ),
    { maxLength: 6 },
  )
  .map((parts) => concatBytes(...parts));

describe('framing properties', () => {
  it('delivers the same frames however the stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (payloads, cuts) => {
          const decoder = new FrameDecoder({ maxFrameBytes: 300 });
          const frames: Uint8Array[] = [];
          for (const chunk of split(concatBytes(...payloads.map((p) => encodeFrame(p, 300))), cuts)) {
            const result = decoder.push(chunk);
            assert.ok(result.ok);
            frames.push(...result.value);
          }
          assert.deepEqual(frames, payloads);
          assert.equal(decoder.bufferedBytes, 0);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('never throws on random streams, stays within its buffer bound, and stays failed', () => {
    const stream = fc.oneof(fc.uint8Array({ maxLength: 64 }), frameish);
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 0, max: 32 }),
        (bytes, cuts, max) => {
          const decoder = new FrameDecoder({ maxFrameBytes: max });
          let failure: unknown;
          for (const chunk of split(bytes, cuts)) {
            const result = decoder.push(chunk); // a throw here fails the property
            if (failure !== undefined) assert.deepEqual(result, { ok: false, error: failure });
            if (!result.ok) failure = result.error;
            else for (const frame of result.value) assert.ok(frame.length <= max);
            assert.ok(decoder.bufferedBytes <= 4 + max);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
