import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IdPrefix, encodeIdText } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  createIdentity,
  decodeIdentityRecord,
  describeIdentityError,
  encodeIdentityRecord,
  formatIdentityDocument,
  parseIdentityDocument,
  signIdentityDocument,
  updateIdentity,
} from '../src/index.ts';

const crypto = createSodiumProvider();
const bob = createIdentity(crypto, { label: 'Bob' });
const carol = createIdentity(crypto, { label: 'Carol' });
const alice = updateIdentity(
  crypto,
  createIdentity(crypto, { label: 'Alice', relays: ['wss://r1.example'] }),
  {
    replicants: [bob.messagingId],
  },
);
const text = formatIdentityDocument(alice.document);
const json = JSON.parse(text) as Record<string, unknown>;

function parseEdited(edit: (doc: Record<string, unknown>) => void) {
  const copy = structuredClone(json);
  edit(copy);
  return parseIdentityDocument(crypto, JSON.stringify(copy));
}

describe('the identity document', () => {
  it('has the seed-003 shape extended with Postern fields', () => {
    assert.deepEqual(Object.keys(json), [
      'type',
      'version',
      'label',
      'pubkey',
      'encryptionKey',
      'relays',
      'replicants',
      'seq',
      'signature',
    ]);
    assert.equal(json['type'], 'Identity');
    assert.match(String(json['pubkey']), /^postern1[02-9ac-hj-np-z]{58}$/);
  });

  it('stays valid when re-indented or its fields reordered', () => {
    const reordered = Object.fromEntries(Object.entries(json).reverse());
    assert.ok(parseIdentityDocument(crypto, JSON.stringify(reordered)).ok);
    assert.ok(parseIdentityDocument(crypto, JSON.stringify(json)).ok);
  });

  it('detects an edit of any signed value', () => {
    const edits: Record<string, (d: Record<string, unknown>) => void> = {
      label: (d) => (d['label'] = 'Mallory'),
      seq: (d) => (d['seq'] = 7),
      relays: (d) => (d['relays'] = ['wss://evil.example']),
      'relays removed': (d) => (d['relays'] = []),
      replicants: (d) => (d['replicants'] = []),
      encryptionKey: (d) =>
        (d['encryptionKey'] = formatIdentityDocument(bob.document).match(/"encryptionKey": "([^"]+)"/)?.[1]),
      pubkey: (d) => (d['pubkey'] = encodeIdText(IdPrefix.messaging, carol.messagingId)),
    };
    for (const [name, edit] of Object.entries(edits)) {
      const result = parseEdited(edit);
      assert.deepEqual(result, { ok: false, error: { code: 'IDENTITY_BAD_SIGNATURE' } }, name);
    }
  });

  it('detects an added or removed field', () => {
    const added = parseEdited((d) => (d['entryPoints'] = []));
    assert.deepEqual(added, { ok: false, error: { code: 'IDENTITY_UNKNOWN_FIELD', field: 'entryPoints' } });
    const removed = parseEdited((d) => delete d['relays']);
    assert.equal(!removed.ok && removed.error.code, 'IDENTITY_BAD_FIELD');
  });

  it('rejects a mistyped messaging id with the checksum sentence', () => {
    const pubkey = String(json['pubkey']);
    const typo = pubkey.slice(0, 20) + (pubkey[20] === 'q' ? 'p' : 'q') + pubkey.slice(21);
    const result = parseEdited((d) => (d['pubkey'] = typo));
    assert.ok(!result.ok && result.error.code === 'IDENTITY_BAD_FIELD');
    assert.match(result.error.code === 'IDENTITY_BAD_FIELD' ? result.error.reason : '', /typo/);
  });

  it('rejects other types, versions and malformed JSON with typed errors', () => {
    const notIdentity = parseEdited((d) => (d['type'] = 'Contact'));
    assert.deepEqual(notIdentity, {
      ok: false,
      error: { code: 'IDENTITY_NOT_AN_IDENTITY', type: '"Contact"' },
    });
    const future = parseEdited((d) => (d['version'] = 2));
    assert.deepEqual(future, { ok: false, error: { code: 'IDENTITY_UNSUPPORTED_VERSION', version: '2' } });
    assert.equal(parseIdentityDocument(crypto, '{"type":').ok, false);
    assert.equal(parseIdentityDocument(crypto, '[]').ok, false);
    const huge = parseIdentityDocument(crypto, ' '.repeat(20_000));
    assert.equal(!huge.ok && huge.error.code, 'IDENTITY_TOO_LARGE');
  });

  it('refuses a field given twice, whichever copy a parser would keep', () => {
    const twice = text.replace('"label": "Alice",', '"label": "Mallory",\n  "label": "Alice",');
    assert.deepEqual(parseIdentityDocument(crypto, twice), {
      ok: false,
      error: { code: 'IDENTITY_DUPLICATE_FIELD', field: 'label' },
    });
    const escaped = text.replace('"label": "Alice",', '"\\u006cabel": "Mallory",\n  "label": "Alice",');
    assert.equal(!parseIdentityDocument(crypto, escaped).ok && 'refused', 'refused');
  });

  it('refuses invisible and direction-changing characters in labels and relays', () => {
    for (const label of ['Alice\u202Eecila', 'Ali\u200Bce', 'A\u2028B', 'A\uE000', 'A\uD800']) {
      assert.throws(
        () => createIdentity(crypto, { label }),
        { code: 'IDENTITY_BAD_PROFILE' },
        JSON.stringify(label),
      );
    }
    for (const relay of ['wss://a\u202Eb', 'wss://a\uD800', 'wss://a\u200Db']) {
      assert.throws(() => createIdentity(crypto, { label: 'A', relays: [relay] }), {
        code: 'IDENTITY_BAD_PROFILE',
      });
    }
  });

  it('answers hostile values in any field with a typed error and a sentence, never a throw', () => {
    const hostile: unknown[] = [
      { toString: 1 },
      { valueOf: 1 },
      [],
      null,
      -0,
      1e21,
      1.5,
      '\uD800',
      'x'.repeat(1000),
      true,
    ];
    for (const field of Object.keys(json)) {
      for (const value of hostile) {
        const result = parseEdited((d) => (d[field] = value));
        if (!result.ok) assert.ok(describeIdentityError(result.error).length > 0);
      }
    }
  });

  it('refuses a signed document whose encryption key is a low-order point', () => {
    const { signature: _s, ...unsigned } = alice.document;
    const forged = signIdentityDocument(crypto, alice.signingKey.expose(), {
      ...unsigned,
      encryptionKey: new Uint8Array(32),
    });
    const result = parseIdentityDocument(crypto, formatIdentityDocument(forged));
    assert.equal(
      !result.ok && result.error.code === 'IDENTITY_BAD_FIELD' && result.error.field,
      'encryptionKey',
    );
  });

  it('round-trips through its binary DHT record form', () => {
    const record = encodeIdentityRecord(alice.document);
    assert.deepEqual(decodeIdentityRecord(crypto, record), { ok: true, value: alice.document });
    const flipped = record.slice();
    flipped[flipped.length - 70] = (flipped[flipped.length - 70] as number) ^ 1;
    assert.equal(decodeIdentityRecord(crypto, flipped).ok, false);
  });

  it('never throws on random or mutated input, in either form (10,000 runs each)', () => {
    const record = encodeIdentityRecord(alice.document);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        assert.equal(decodeIdentityRecord(crypto, bytes).ok, false);
      }),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: record.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (i, x) => {
          const mutated = record.slice();
          mutated[i] = (mutated[i] as number) ^ x;
          assert.equal(decodeIdentityRecord(crypto, mutated).ok, false);
        },
      ),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.nat(text.length), (junk, at) => {
        parseIdentityDocument(crypto, junk);
        parseIdentityDocument(crypto, text.slice(0, at) + junk + text.slice(at));
      }),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...Object.keys(json)), (value, field) => {
        parseIdentityDocument(crypto, JSON.stringify(value) ?? 'null');
        const result = parseEdited((d) => (d[field] = value));
        if (!result.ok) describeIdentityError(result.error);
      }),
      { numRuns: 10_000 },
    );
  });
});
