import { type Result, err, ok } from '@postern/core';
import { EnvelopeLimits } from '@postern/envelope';
import {
  type WireError,
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBytes,
  expectNullable,
  expectStruct,
  expectText,
  expectUint,
} from '@postern/wire';
import { ADDRESSES_MAX, ADDRESS_BYTES_MAX, type Reach } from './statements.ts';

/**
 * What a Postern node seals in an envelope: the application's content (or receipts, for the
 * recipient's own messages) and where the sender can be reached for the receipt (only the recipient
 * reads it). Canonical CBOR `{ k, c, r }`.
 */
export interface MessageBody {
  /** 'message' carries the application's content; 'receipts' carries signed receipts for the reader's own messages. */
  readonly kind: 'message' | 'receipts';
  readonly content: Uint8Array;
  readonly reply: Reach | null;
}

const KIND = { message: 0, receipts: 1 } as const;

const readBody = expectStruct({
  k: expectUint(1),
  c: expectBytes({ min: 0, max: EnvelopeLimits.bodyBytesMax }),
  r: expectNullable(
    expectStruct({
      node: expectBytes(32),
      addrs: expectArrayOf(expectText(ADDRESS_BYTES_MAX), { min: 0, max: ADDRESSES_MAX }),
    }),
  ),
});

export function encodeBody(body: MessageBody): Uint8Array {
  const reply = body.reply === null ? null : { node: body.reply.node, addrs: [...body.reply.addrs] };
  return encodeCanonical({ k: KIND[body.kind], c: body.content, r: reply });
}

export function decodeBody(bytes: Uint8Array): Result<MessageBody, WireError> {
  const read = decodeWith(bytes, readBody, { maxBytes: EnvelopeLimits.bodyBytesMax + 2048, maxDepth: 3 });
  if (!read.ok) return err(read.error);
  const { k, c, r } = read.value;
  const reply = r === null ? null : { node: r.node as Reach['node'], addrs: r.addrs };
  return ok({ kind: k === KIND.receipts ? 'receipts' : 'message', content: c, reply });
}
