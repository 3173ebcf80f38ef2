// The Replicant protocol's codecs: messages, signed statements, sealed bodies and persisted rows
// round-trip, and any bytes decode to a value or a typed error, never an exception.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type MessagingId, type NodeId, Rng } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { createIdentity } from '@postern/identity';
import {
  type ReplicantMessage,
  TABLES,
  decodeBody,
  decodeReplicantMessage,
  decodeRow,
  encodeBody,
  encodeReplicantMessage,
  encodeRow,
  openStatement,
  signStatement,
} from '../src/index.ts';

const rng = Rng.fromSeed('replicant codecs');
const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
const alice = createIdentity(crypto, { label: 'alice' });
const node = rng.bytes(32) as NodeId;

const receipt = signStatement(crypto, alice, 'receipt', {
  sender: rng.bytes(32) as MessagingId,
  id: rng.bytes(16),
  digest: rng.bytes(32),
  at: 1_790_000_000_000,
});

const samples: ReplicantMessage[] = [
  { t: 'presence', rid: 1, p: receipt.bytes, reply: false },
  { t: 'hold', rid: 2, env: rng.bytes(600) },
  { t: 'deliver', rid: 3, env: rng.bytes(600) },
  { t: 'receipts', rid: 4, rs: [receipt.bytes, receipt.bytes] },
  { t: 'role', rid: 5, s: receipt.bytes, ticket: null },
  { t: 'role', rid: 6, s: receipt.bytes, ticket: receipt.bytes },
  { t: 'ok', rid: 0xffff_ffff },
  { t: 'stored', rid: 7, ack: receipt.bytes },
  { t: 'receipt', rid: 8, r: receipt.bytes },
  { t: 'refused', rid: 9, code: 'REPLICANT_FULL', retryMs: 1_800_000 },
];

describe('replicant messages', () => {
  it('round-trips every kind', () => {
    for (const message of samples) {
      const decoded = decodeReplicantMessage(encodeReplicantMessage(message));
      assert.ok(decoded.ok, message.t);
      assert.deepEqual(decoded.value, message);
    }
  });

  it('decodes any bytes to a message or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const decoded = decodeReplicantMessage(bytes);
        assert.ok(decoded.ok || typeof decoded.error.code === 'string');
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes every truncation and single-bit change of a valid message without throwing', () => {
    for (const message of samples) {
      const bytes = encodeReplicantMessage(message);
      for (let i = 0; i < bytes.length; i++) {
        decodeReplicantMessage(bytes.subarray(0, i));
        const flipped = bytes.slice();
        flipped[i] = (flipped[i] as number) ^ (1 << (i % 8));
        decodeReplicantMessage(flipped);
      }
    }
  });
});

describe('signed statements', () => {
  it('open with their signer, and refuse another kind or any changed byte', () => {
    const ticket = signStatement(crypto, alice, 'ticket', {
      user: alice.messagingId,
      node,
      addrs: ['tcp://127.0.0.1:1'],
      at: 5,
    });
    const opened = openStatement(crypto, ticket.bytes, 'ticket');
    assert.ok(opened.ok);
    assert.deepEqual(opened.value.body, ticket.body);
    assert.deepEqual(opened.value.signer, alice.messagingId);
    const wrong = openStatement(crypto, ticket.bytes, 'receipt');
    assert.equal(wrong.ok ? 'ok' : wrong.error.code, 'STATEMENT_WRONG_KIND');
    for (let i = 0; i < ticket.bytes.length; i++) {
      const flipped = ticket.bytes.slice();
      flipped[i] = (flipped[i] as number) ^ 0x04;
      assert.equal(openStatement(crypto, flipped, 'ticket').ok, false, `byte ${i}`);
    }
  });

  it('open any bytes to a statement or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => {
        const opened = openStatement(crypto, bytes, 'presence');
        assert.ok(opened.ok || typeof opened.error.code === 'string');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('sealed bodies and persisted rows', () => {
  it('round-trip a body, and decode any bytes without throwing', () => {
    const body = {
      kind: 'message',
      content: rng.bytes(100),
      reply: { node, addrs: ['tcp://127.0.0.1:9'] },
    } as const;
    const decoded = decodeBody(encodeBody(body));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, body);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => void decodeBody(bytes)),
      { numRuns: 1000 },
    );
  });

  it('round-trip an outbox row, and read any bytes in any table as a row or an error', () => {
    const row = {
      env: rng.bytes(700),
      state: 'stored',
      acks: [receipt.bytes],
      receipt: null,
      at: 12,
      system: false,
    } as const;
    const decoded = decodeRow('outbox', encodeRow(row));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, row);
    const tables = TABLES.filter((t) => t !== 'self' && t !== 'held');
    fc.assert(
      fc.property(fc.constantFrom(...tables), fc.uint8Array({ maxLength: 512 }), (table, bytes) => {
        const read = decodeRow(table, bytes);
        assert.ok(read.ok || typeof read.error.code === 'string');
      }),
      { numRuns: 2000 },
    );
  });
});
