import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IdPrefix, type NodeId, encodeIdText } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { createIdentity, formatIdentityDocument } from '@postern/identity';
import { formatContactCard, parseContactCard } from '../src/daemon/contact-card.ts';

const crypto = createSodiumProvider();
const alice = createIdentity(crypto, { label: 'Alice' });
const node = new Uint8Array(32).fill(9) as NodeId;
const addrs = ['tcp://127.0.0.1:7400', 'ws://[::1]:7401'];

describe('contact cards', () => {
  it('round-trips a card with its reach, and takes a bare identity document', () => {
    const card = parseContactCard(crypto, formatContactCard(alice.document, { node, addrs }));
    assert.ok(card.ok);
    assert.deepEqual(card.value.reach, { node, addrs });
    assert.deepEqual(card.value.document, alice.document);
    const bare = parseContactCard(crypto, formatIdentityDocument(alice.document));
    assert.ok(bare.ok);
    assert.equal(bare.value.reach, undefined);
  });

  it('refuses a card whose document was altered, or whose reach is malformed, saying which', () => {
    const json = JSON.parse(formatContactCard(alice.document, { node, addrs })) as Record<string, unknown>;
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { ...json, document: { ...(json['document'] as object), label: 'Mallory' } },
        /its identity document: /,
      ],
      [{ ...json, node: 'pnode1xyz' }, /"node" is not a node id/],
      [{ ...json, node: encodeIdText(IdPrefix.messaging, node) }, /"node" is not a node id/],
      [{ ...json, addrs: [] }, /"addrs" must list 1 to 4 addresses/],
      [{ ...json, addrs: ['http://example.org/'] }, /is not an address like tcp:/],
      [{ ...json, version: 2 }, /neither a contact card/],
    ];
    for (const [value, reason] of cases) {
      const parsed = parseContactCard(crypto, JSON.stringify(value));
      assert.ok(!parsed.ok);
      assert.equal(parsed.error.code, 'CONTACT_CARD_INVALID');
      assert.match(parsed.error.reason, reason);
    }
  });

  it('gives an error, never a throw, for any text or JSON value (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 4 })), (text) => {
        const parsed = parseContactCard(crypto, text);
        assert.equal(parsed.ok, false);
      }),
      { numRuns: 500 },
    );
    const card = JSON.parse(formatContactCard(alice.document, { node, addrs })) as Record<string, unknown>;
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 3 }),
        fc.constantFrom('node', 'addrs', 'document'),
        (value, field) => {
          const parsed = parseContactCard(crypto, JSON.stringify({ ...card, [field]: value }));
          assert.equal(parsed.ok, false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
