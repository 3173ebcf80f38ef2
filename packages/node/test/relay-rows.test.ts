import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toHex } from '@postern/core';
import { decodeAckRow, decodeWrittenRow, encodeAckRow, encodeWrittenRow } from '../src/relay-rows.ts';

describe('relay mailbox rows', () => {
  it('reads back the relays that hold a message, and acknowledgements with and without a receipt', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 8, selector: toHex }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 128 }),
        fc.nat(),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 1024 })),
        (relays, relay, path, at, receipt) => {
          const written = new Set(relays.map(toHex));
          assert.deepEqual(decodeWrittenRow(encodeWrittenRow(written)), written);
          const ack = { relay, path, at, receipt };
          const fits = new TextEncoder().encode(path).length <= 128;
          assert.deepEqual(decodeAckRow(encodeAckRow(ack)), fits ? ack : undefined);
        },
      ),
    );
  });

  it('never throws on random bytes (a damaged row is skipped)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        decodeWrittenRow(bytes);
        decodeAckRow(bytes);
      }),
    );
  });
});
