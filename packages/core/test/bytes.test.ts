import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  bytesEqual,
  compareBytes,
  concatBytes,
  fromBase64url,
  fromHex,
  fromUtf8,
  readU32BE,
  toBase64url,
  toHex,
  utf8,
  writeU32BE,
} from '../src/index.ts';

describe('bytes helpers', () => {
  it('round-trips hex and base64url for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        assert.deepEqual(fromHex(toHex(bytes)), { ok: true, value: bytes });
        assert.deepEqual(fromHex(toHex(bytes).toUpperCase()), { ok: true, value: bytes });
        assert.deepEqual(fromBase64url(toBase64url(bytes)), { ok: true, value: bytes });
      }),
    );
  });

  it('answers bad hex, base64url and UTF-8 with typed errors, never a throw', () => {
    assert.equal(fromHex('abc').ok, false);
    assert.equal(fromHex('zz').ok, false);
    assert.equal(fromBase64url('a').ok, false);
    assert.equal(fromBase64url('ab+/').ok, false);
    assert.deepEqual(fromUtf8(new Uint8Array([0xff, 0xfe])), {
      ok: false,
      error: { code: 'BYTES_BAD_UTF8' },
    });
    fc.assert(
      fc.property(fc.string(), fc.uint8Array(), (text, bytes) => {
        fromHex(text);
        fromBase64url(text);
        fromUtf8(bytes);
      }),
      { numRuns: 10_000 },
    );
  });

  it('compares, concatenates and reads big-endian integers', () => {
    assert.deepEqual(concatBytes(new Uint8Array([1]), new Uint8Array([2, 3])), new Uint8Array([1, 2, 3]));
    assert.ok(bytesEqual(utf8('é'), new Uint8Array([0xc3, 0xa9])));
    assert.ok(!bytesEqual(new Uint8Array([1]), new Uint8Array([1, 0])));
    assert.ok(compareBytes(new Uint8Array([1]), new Uint8Array([1, 0])) < 0);
    assert.ok(compareBytes(new Uint8Array([2]), new Uint8Array([1, 9])) > 0);
    const buf = new Uint8Array(6);
    writeU32BE(buf, 1, 0xdeadbeef);
    assert.equal(readU32BE(buf, 1), 0xdeadbeef);
    assert.equal(buf[1], 0xde);
  });
});
