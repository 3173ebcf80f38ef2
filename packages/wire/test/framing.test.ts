import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, toHex, unwrap, UsageError } from '@postern/core';
import { encodeFrame, FrameDecoder, type FrameError } from '../src/index.ts';

function pushError(decoder: FrameDecoder, chunk: Uint8Array): FrameError {
  const result = decoder.push(chunk);
  return result.ok ? assert.fail(`expected an error, got ${result.value.length} frames`) : result.error;
}

describe('encodeFrame', () => {
  it('prefixes the payload with its big-endian 4-byte length', () => {
    assert.equal(toHex(encodeFrame(new Uint8Array([1, 2, 3]))), '00000003010203');
    assert.equal(toHex(encodeFrame(new Uint8Array(0))), '00000000');
  });

  it('throws UsageError WIRE_FRAME_TOO_LARGE for a payload above the maximum', () => {
    assert.equal(encodeFrame(new Uint8Array(16), 16).length, 20);
    assert.throws(
      () => encodeFrame(new Uint8Array(17), 16),
      (e: unknown) => e instanceof UsageError && e.code === 'WIRE_FRAME_TOO_LARGE',
    );
    assert.throws(() => encodeFrame(new Uint8Array(1024 * 1024 + 1)), { code: 'WIRE_FRAME_TOO_LARGE' });
  });
});

describe('FrameDecoder', () => {
  it('returns every frame completed by one chunk, empty frames included', () => {
    const stream = concatBytes(
      encodeFrame(new Uint8Array([1])),
      encodeFrame(new Uint8Array(0)),
      encodeFrame(new Uint8Array([2, 3])),
    );
    assert.deepEqual(unwrap(new FrameDecoder().push(stream)), [
      new Uint8Array([1]),
      new Uint8Array(0),
      new Uint8Array([2, 3]),
    ]);
  });

  it('reassembles a frame pushed one byte at a time, header included', () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame(new Uint8Array([9, 8, 7]));
    const out: Uint8Array[] = [];
    for (let i = 0; i < frame.length; i++) {
      out.push(...unwrap(decoder.push(frame.subarray(i, i + 1))));
      assert.equal(decoder.bufferedBytes, i + 1 === frame.length ? 0 : i + 1);
    }
    assert.deepEqual(out, [new Uint8Array([9, 8, 7])]);
  });

  it('returns frames that do not share memory with the pushed chunks', () => {
    const chunk = encodeFrame(new Uint8Array([1, 2]));
    const [frame] = unwrap(new FrameDecoder().push(chunk));
    chunk.fill(0);
    assert.deepEqual(frame, new Uint8Array([1, 2]));
  });

  it('refuses an oversize length as soon as the header is complete, buffering nothing', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });
    assert.deepEqual(unwrap(decoder.push(new Uint8Array([0, 0]))), []);
    assert.deepEqual(pushError(decoder, new Uint8Array([0, 101])), {
      code: 'WIRE_FRAME_TOO_LARGE',
      size: 101,
      max: 100,
    });
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('refuses a 4 GiB header with the default maximum', () => {
    const error = pushError(new FrameDecoder(), new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    assert.deepEqual(error, { code: 'WIRE_FRAME_TOO_LARGE', size: 0xffff_ffff, max: 1024 * 1024 });
  });

  it('stays failed: every later push returns the same error', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 });
    const first = pushError(decoder, new Uint8Array([0, 0, 0, 2]));
    assert.deepEqual(pushError(decoder, encodeFrame(new Uint8Array([1]))), first);
    assert.deepEqual(pushError(decoder, new Uint8Array(0)), first);
  });

  it('holds at most header + maxFrameBytes while a maximal frame trickles in', () => {
    const max = 4096;
    const decoder = new FrameDecoder({ maxFrameBytes: max });
    const stream = concatBytes(
      encodeFrame(new Uint8Array(max).fill(5), max),
      encodeFrame(new Uint8Array([1]), max),
    );
    const frames: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += 3) {
      frames.push(...unwrap(decoder.push(stream.subarray(i, i + 3))));
      assert.ok(decoder.bufferedBytes <= 4 + max);
    }
    assert.deepEqual(
      frames.map((f) => f.length),
      [max, 1],
    );
  });

  it('copies each byte a bounded number of times: a 1 MiB frame in 1-byte chunks is quick', () => {
    const payload = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
    const stream = encodeFrame(payload);
    const decoder = new FrameDecoder();
    let frames: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i++)
      frames = frames.concat(unwrap(decoder.push(stream.subarray(i, i + 1))));
    assert.deepEqual(frames, [payload]);
  });

  it('throws UsageError WIRE_BAD_LIMIT for a maximum the header cannot express', () => {
    assert.throws(() => new FrameDecoder({ maxFrameBytes: 2 ** 32 }), { code: 'WIRE_BAD_LIMIT' });
    assert.throws(() => new FrameDecoder({ maxFrameBytes: 1.5 }), { code: 'WIRE_BAD_LIMIT' });
  });
});
