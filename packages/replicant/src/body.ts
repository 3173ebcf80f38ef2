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
} from '@postern/wire';
import { ADDRESSES_MAX, ADDRESS_BYTES_MAX, type Reach } from './statements.ts';

/**
 * What a Postern node seals in an envelope: the application's content and where the sender can be
 * reached for the receipt (only the recipient reads it). Canonical CBOR `{ c, r }`.
 */
export interface MessageBody {
  readonly content: Uint8Array;
  readonly reply: Reach | null;
}

const readBody = expectStruct({
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
  return encodeCanonical({ c: body.content, r: reply });
}

export function decodeBody(bytes: Uint8Array): Result<MessageBody, WireError> {
  const read = decodeWith(bytes, readBody, { maxBytes: EnvelopeLimits.bodyBytesMax + 2048, maxDepth: 3 });
  if (!read.ok) return err(read.error);
  const { c, r } = read.value;
  return ok({ content: c, reply: r === null ? null : { node: r.node as Reach['node'], addrs: r.addrs } });
}
