// Signed mutable records (BEP 44 style): signing, the codec, and every reason a record is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng, unwrap, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  DEFAULT_KADEMLIA_LIMITS as limits,
  type SignedRecord,
  checkRecord,
  compareVersions,
  decodeRecord,
  encodeRecord,
  recordKey,
  signRecord,
} from '../src/index.ts';

const rng = Rng.fromSeed('records');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const owner = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const other = crypto.ed25519KeyPairFromSeed(rng.bytes(32));
const NOW = 1_790_000_000_000;
const HOUR = 3_600_000;

function record(fields: Partial<Parameters<typeof signRecord>[2]> = {}, key = owner.secretKey): SignedRecord {
  return signRecord(
    crypto,
    key,
    { salt: utf8('identity'), seq: 1, value: utf8('hello'), expiresAtMs: NOW + HOUR, ...fields },
    limits,
  );
}

const check = (r: SignedRecord, key?: Uint8Array, nowMs = NOW) =>
  checkRecord(crypto, r, { ...(key ? { key } : {}), nowMs, limits });

describe('signed records', () => {
  it('round-trips through the codec and passes every check under its own key', () => {
    const r = record();
    const decoded = unwrap(decodeRecord(encodeRecord(r), limits));
    assert.deepEqual(decoded, r);
    assert.ok(check(decoded, recordKey(crypto, owner.publicKey, utf8('identity'))).ok);
  });

  it('refuses a record under another key: another salt or another owner', () => {
    const r = record();
    assert.deepEqual(check(r, recordKey(crypto, owner.publicKey, utf8('other'))), {
      ok: false,
      error: { code: 'RECORD_WRONG_KEY' },
    });
    assert.equal(
      unwrapError(check(r, recordKey(crypto, other.publicKey, utf8('identity')))),
      'RECORD_WRONG_KEY',
    );
  });

  it('refuses any change to a signed field as a bad signature', () => {
    const r = record();
    const forged: SignedRecord[] = [
      { ...r, seq: 2 },
      { ...r, value: utf8('hellp') },
      { ...r, expiresAtMs: r.expiresAtMs + 1 },
      { ...r, salt: utf8('identitz') },
      { ...r, signature: r.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) },
      { ...r, owner: other.publicKey }, // someone else's key over the owner's signature
    ];
    for (const f of forged) assert.equal(unwrapError(check(f)), 'RECORD_BAD_SIGNATURE');
  });

  it('refuses a record signed by a key other than its owner field', () => {
    const r = record({}, other.secretKey);
    const stolen = { ...r, owner: owner.publicKey };
    assert.equal(unwrapError(check(stolen)), 'RECORD_BAD_SIGNATURE');
  });

  it('refuses expired records and records that claim to live longer than the limit', () => {
    assert.deepEqual(check(record({ expiresAtMs: NOW })), {
      ok: false,
      error: { code: 'RECORD_EXPIRED', expiredAtMs: NOW },
    });
    const far = NOW + limits.recordTtlMaxMs + 1;
    assert.deepEqual(check(record({ expiresAtMs: far })), {
      ok: false,
      error: { code: 'RECORD_TTL_TOO_LONG', expiresAtMs: far, latestMs: NOW + limits.recordTtlMaxMs },
    });
    assert.ok(check(record({ expiresAtMs: NOW + limits.recordTtlMaxMs })).ok);
  });

  it('refuses to sign a value or salt above the limits, and decodes such records as malformed', () => {
    const big = new Uint8Array(limits.recordValueBytesMax + 1);
    assert.throws(() => record({ value: big }), { code: 'KAD_RECORD_TOO_LARGE' });
    assert.throws(() => record({ seq: -1 }), { code: 'KAD_RECORD_BAD_FIELD' });
    const loose = { ...limits, recordValueBytesMax: 1 << 20 };
    const oversized = signRecord(
      crypto,
      owner.secretKey,
      { salt: utf8(''), seq: 1, value: big, expiresAtMs: NOW },
      loose,
    );
    assert.equal(unwrapError(decodeRecord(encodeRecord(oversized), limits)), 'RECORD_MALFORMED');
  });

  it('orders versions by seq; the same seq with another value is a conflict', () => {
    const one = record({ seq: 1 });
    assert.equal(compareVersions(record({ seq: 2 }), one), 'newer');
    assert.equal(compareVersions(one, record({ seq: 2 })), 'stale');
    assert.equal(compareVersions(record({ seq: 1, expiresAtMs: NOW + 2 * HOUR }), one), 'same');
    assert.equal(compareVersions(record({ seq: 1, value: utf8('other') }), one), 'conflict');
  });

  it('decodes random bytes and mutated records without throwing, and no mutation passes the checks', () => {
    const r = record();
    const bytes = encodeRecord(r);
    const key = recordKey(crypto, owner.publicKey, r.salt);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (random) => {
        decodeRecord(random, limits);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const mutated = bytes.slice();
        mutated[at] = (mutated[at] as number) ^ flip;
        const decoded = decodeRecord(mutated, limits);
        if (decoded.ok) assert.equal(check(decoded.value, key).ok, false);
      }),
      { numRuns: 3000 },
    );
  });
});

function unwrapError(result: { ok: boolean; error?: { code: string } }): string | undefined {
  return result.ok ? undefined : result.error?.code;
}
