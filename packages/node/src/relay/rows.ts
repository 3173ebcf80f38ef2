import { type Result, fromHex, toHex, unwrap } from '@postern/core';
import type { Ack } from '@postern/relay';
import {
  decodeWith,
  encodeCanonical,
  expectArrayOf,
  expectBytes,
  expectNullable,
  expectStruct,
  expectText,
  expectUint,
} from '@postern/wire';

/** Bounds and timings of a node's relay mailbox, each with its reason. */
export interface Limits {
  /**
   * When outgoing messages are written to the user's own relays: `always` (at once, beside direct
   * and replicant delivery), or `fallback` (only a message still queued — neither stored by a
   * replicant nor delivered — `fallbackAfterMs` after it was sent).
   */
  readonly policy: 'always' | 'fallback';
  readonly fallbackAfterMs: number;
  /** Relay connections at once: a user's own relays first, then those most contacts use. */
  readonly connectionsMax: number;
  /** Requests awaiting answers on one relay connection (writes beyond it wait for the next sync). */
  readonly requestsPerRelayMax: number;
  readonly requestTimeoutMs: number;
  /** A lost connection is dialled again after this, doubling up to the max. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** A relay that answered "full", "no account" or "stale" (a clock off) gets no writes for this long. */
  readonly refusedBackoffMs: number;
  /**
   * Unwritten messages, owed acknowledgements, deletes and failed listens are tried again this
   * often while some wait (and it is the fallback policy's clock).
   */
  readonly syncEveryMs: number;
  /**
   * Pushed paths waiting to be read, per relay; more come again at the next listen. Records left
   * for later (a full inbox) wait as many, read again after `refusedBackoffMs`.
   */
  readonly readQueueMax: number;
  readonly readsInFlightMax: number;
  /** A read that timed out is tried again this many times. */
  readonly readTriesMax: number;
  /** Paths remembered as handled, so a push repeated on a new connection is not read twice. */
  readonly handledPathsMax: number;
  /** How long an acknowledgement lives on the receiver's relays: a sender away a week still finds it. */
  readonly ackTtlMs: number;
  /** Acknowledgements owed (not yet written to an own relay); the oldest are dropped beyond it. */
  readonly ackQueueMax: number;
  /** Acknowledgements of this user's records kept for audits; the oldest are dropped beyond it. */
  readonly acksKeptMax: number;
  /** Messages whose relay records are remembered (to skip rewrites, and to delete them once delivered). */
  readonly writtenMax: number;
  /** A connection with no request for this long gets a cheap one: a Noise link stays up, a dead one is found. */
  readonly probeIdleMs: number;
  /** Usage entries one audit collects, from all relays together. */
  readonly auditEntriesMax: number;
  /** A relay whose usage listing has not settled yet is asked again after this. */
  readonly auditRetryMs: number;
  /** An audit ends by this deadline; relays that have not answered by then are listed as unreachable. */
  readonly auditTimeoutMs: number;
  /** A relay connection that answers this many times what no honest relay answers is cut (and redialled late). */
  readonly misbehaviourMax: number;
}

export const DEFAULT_MAILBOX_LIMITS: Limits = {
  policy: 'always',
  fallbackAfterMs: 30_000,
  connectionsMax: 32,
  requestsPerRelayMax: 256,
  requestTimeoutMs: 30_000,
  reconnectMinMs: 1_000,
  reconnectMaxMs: 5 * 60_000,
  refusedBackoffMs: 60_000,
  syncEveryMs: 15_000,
  readQueueMax: 4096,
  readsInFlightMax: 16,
  readTriesMax: 3,
  handledPathsMax: 8192,
  ackTtlMs: 7 * 24 * 3_600_000,
  ackQueueMax: 1024,
  acksKeptMax: 10_000,
  writtenMax: 20_000,
  probeIdleMs: 2 * 60_000,
  auditEntriesMax: 100_000,
  auditRetryMs: 1_000,
  auditTimeoutMs: 60_000,
  misbehaviourMax: 8,
};

/**
 * A row of the node's `relay` table: `out:<outbox key>` (the relays holding one of this user's
 * messages), `ack:<relay hex> <path>` (an acknowledgement of this user's record, for audits), or
 * `ackq:<record id hex>` (an acknowledgement this user owes, not yet written to one of its relays).
 */
export interface MailboxRow {
  readonly table: 'relay';
  readonly key: string;
  readonly value: Uint8Array;
}

/** Where a message was written, until when its records live (then the row goes too). */
export interface Written {
  readonly relays: Set<string>;
  readonly until: number;
}

/** An acknowledgement to write to this user's relays (its content sealed once). */
export interface OwedAck {
  readonly to: Uint8Array;
  readonly recordId: Uint8Array;
  readonly content: Uint8Array;
  /** Wall-clock expiry. */
  readonly until: number;
}

const key32 = expectBytes(32);
const readWritten = expectStruct({
  relays: expectArrayOf(key32, { min: 0, max: 64 }),
  until: expectUint(),
});
const readAck = expectStruct({
  relay: key32,
  path: expectText(128),
  at: expectUint(),
  receipt: expectNullable(expectBytes({ min: 1, max: 1024 })),
});
const readOwed = expectStruct({
  to: key32,
  recordId: expectBytes(16),
  content: expectBytes({ min: 1, max: 4096 }),
  until: expectUint(),
});

export function encodeWrittenRow(written: Written): Uint8Array {
  return encodeCanonical({
    relays: [...written.relays].map((hex) => unwrap(fromHex(hex))),
    until: written.until,
  });
}

/** Undefined for a row that does not read back (written by another version, or damaged). */
export function decodeWrittenRow(bytes: Uint8Array): Written | undefined {
  const read = decodeWith(bytes, readWritten);
  return read.ok
    ? { relays: new Set(read.value.relays.map((k) => toHex(k))), until: read.value.until }
    : undefined;
}

export function encodeAckRow(ack: Ack): Uint8Array {
  return encodeCanonical({ relay: ack.relay, path: ack.path, at: ack.at, receipt: ack.receipt });
}

export function decodeAckRow(bytes: Uint8Array): Ack | undefined {
  const read: Result<Ack, unknown> = decodeWith(bytes, readAck);
  return read.ok ? read.value : undefined;
}

export function encodeOwedRow(owed: OwedAck): Uint8Array {
  return encodeCanonical({ to: owed.to, recordId: owed.recordId, content: owed.content, until: owed.until });
}

export function decodeOwedRow(bytes: Uint8Array): OwedAck | undefined {
  const read = decodeWith(bytes, readOwed);
  return read.ok ? read.value : undefined;
}
