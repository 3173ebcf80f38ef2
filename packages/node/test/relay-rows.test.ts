import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '@postern/core';
import {
  decodeAckRow,
  decodeOwedRow,
  decodeWrittenRow,
  encodeAckRow,
  encodeOwedRow,
  encodeWrittenRow,
} from '../src/relay/rows.ts';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('relay mailbox rows', () => {
  it('reads back where a message was written, acknowledgements kept, and acknowledgements owed', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { maxLength: 8, selector: toHex }),
        key,
        fc.string({ maxLength: 128 }),
        fc.nat(),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 1024 })),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 1, maxLength: 4096 }),
        (relays, relay, path, at, receipt, recordId, content) => {
          const written = { relays: new Set(relays.map(toHex)), until: at };
          assert.deepEqual(decodeWrittenRow(encodeWrittenRow(written)), written);
          const ack = { relay, path, at, receipt };
          assert.deepEqual(decodeAckRow(encodeAckRow(ack)), ack);
          const owed = { to: relay, recordId, content, until: at };
          assert.deepEqual(decodeOwedRow(encodeOwedRow(owed)), owed);
        },
      ),
    );
  });

  it('never throws on random bytes (a damaged row is skipped)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        decodeWrittenRow(bytes);
        decodeAckRow(bytes);
        decodeOwedRow(bytes);
      }),
    );
  });
});
