import { type Result, err, ok } from '@postern/core';
import {
  type Reader,
  type WireError,
  type WireValue,
  expectArrayOf,
  expectBool,
  expectBytes,
  expectLiteral,
  expectStruct,
  expectText,
  expectUint,
} from '@postern/wire';
import type { RelayLimits } from './limits.ts';
import { SAME_MS_ITEMS_MAX } from './store.ts';
import { type RelayMessage, type RelayRequest, type WriteRequest, messageReader } from './messages.ts';

/**
 * The `value` of a `result` answer, by the request it answers: what a client gets back.
 * write, delete, listen → true; read → the record (the sender's signed write) or null;
 * inventory → an Inventory page; RequestUsage → a UsageReport page.
 */
export interface Inventory {
  readonly type: 'Inventory';
  readonly paths: readonly string[];
  /** False: more records than one answer holds; ask again with afterTs = throughTs. */
  readonly complete: boolean;
  readonly throughTs: number;
}

export interface UsageReport {
  readonly type: 'UsageReport';
  readonly usage: readonly { receiver: Uint8Array; path: string; ts: number; bytes: number }[];
  readonly complete: boolean;
  readonly throughTs: number;
}

export type AnswerValue<R extends RelayRequest['type']> = R extends 'read'
  ? RelayMessage<WriteRequest> | null
  : R extends 'inventory'
    ? Inventory
    : R extends 'RequestUsage'
      ? UsageReport
      : true;

export function answerReader(type: RelayRequest['type'], limits: RelayLimits): Reader<unknown> {
  const path = expectText(limits.pathBytesMax);
  switch (type) {
    case 'write':
    case 'delete':
    case 'listen':
      return expectLiteral(true);
    case 'read':
      return readRecord(limits);
    case 'inventory':
      return expectStruct({
        type: expectLiteral('Inventory'),
        paths: expectArrayOf(path, { min: 0, max: SAME_MS_ITEMS_MAX }),
        complete: expectBool,
        throughTs: expectUint(),
      });
    case 'RequestUsage':
      return expectStruct({
        type: expectLiteral('UsageReport'),
        usage: expectArrayOf(
          expectStruct({ receiver: expectBytes(32), path, ts: expectUint(), bytes: expectUint() }),
          { min: 0, max: SAME_MS_ITEMS_MAX },
        ),
        complete: expectBool,
        throughTs: expectUint(),
      });
  }
}

/** A read's value: null, or a signed write message (whose signature the caller checks). */
function readRecord(limits: RelayLimits): Reader<RelayMessage<WriteRequest> | null> {
  const message = messageReader(limits);
  return (value: WireValue, field: string): Result<RelayMessage<WriteRequest> | null, WireError> => {
    if (value === null) return ok(null);
    const read = message(value, field);
    if (!read.ok) return read;
    if (read.value.request.type !== 'write') {
      return err({ code: 'WIRE_BAD_FIELD', field: `${field}.msg.type`, reason: 'a record is a write' });
    }
    return ok(read.value as RelayMessage<WriteRequest>);
  };
}
