import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IdPrefix, decodeIdText, describeIdTextError, encodeIdText, Rng } from '../src/index.ts';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const id = Rng.fromSeed('id-text').bytes(32);

describe('id text form (bech32m)', () => {
  it('round-trips every 32-byte id and tolerates surrounding spaces and uppercase', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const text = encodeIdText(IdPrefix.messaging, bytes);
        assert.ok(text.startsWith('postern1'));
        assert.deepEqual(decodeIdText(IdPrefix.messaging, text), { ok: true, value: bytes });
        assert.deepEqual(decodeIdText(IdPrefix.messaging, ` ${text.toUpperCase()}\n`), {
          ok: true,
          value: bytes,
        });
      }),
    );
  });

  it('rejects every single-character typo in an id', () => {
    const text = encodeIdText(IdPrefix.messaging, id);
    let typos = 0;
    for (let i = 'postern1'.length; i < text.length; i++) {
      for (const c of CHARSET) {
        if (c === text[i]) continue;
        const typo = text.slice(0, i) + c + text.slice(i + 1);
        const result = decodeIdText(IdPrefix.messaging, typo);
        assert.deepEqual(result, { ok: false, error: { code: 'ID_TEXT_BAD_CHECKSUM' } }, typo);
        typos++;
      }
    }
    assert.equal(typos, (text.length - 8) * 31);
  });

  it('rejects swapped neighbours, a dropped character and an extra one', () => {
    const text = encodeIdText(IdPrefix.messaging, id);
    for (let i = 8; i < text.length - 1; i++) {
      if (text[i] === text[i + 1]) continue;
      const swapped = text.slice(0, i) + text[i + 1] + text[i] + text.slice(i + 2);
      assert.equal(decodeIdText(IdPrefix.messaging, swapped).ok, false, swapped);
    }
    assert.equal(decodeIdText(IdPrefix.messaging, text.slice(0, -1)).ok, false);
    assert.equal(decodeIdText(IdPrefix.messaging, text + 'q').ok, false);
  });

  it('says which kind of id was given when the prefix is wrong', () => {
    const nodeText = encodeIdText(IdPrefix.node, id);
    const result = decodeIdText(IdPrefix.messaging, nodeText);
    assert.deepEqual(result, {
      ok: false,
      error: { code: 'ID_TEXT_WRONG_KIND', expected: 'postern', found: 'pnode' },
    });
    if (!result.ok) assert.match(describeIdTextError(result.error), /pnode1/);
  });

  it('rejects mixed case, foreign characters and junk with a sentence a person can act on', () => {
    const text = encodeIdText(IdPrefix.messaging, id);
    const mixed = text.slice(0, 10) + text.slice(10).toUpperCase();
    for (const bad of [mixed, 'postern1bbbb', 'hello', '', 'x'.repeat(200)]) {
      const result = decodeIdText(IdPrefix.messaging, bad);
      assert.equal(result.ok, false, bad);
      if (!result.ok) assert.ok(describeIdTextError(result.error).length > 10);
    }
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        decodeIdText(IdPrefix.messaging, text);
        decodeIdText(IdPrefix.messaging, `postern1${text}`);
      }),
      { numRuns: 10_000 },
    );
  });
});
