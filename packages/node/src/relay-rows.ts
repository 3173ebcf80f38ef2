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
  /** A relay that answered "full" or "no account" gets no writes for this long. */
  readonly refusedBackoffMs: number;
  /** Unwritten messages are tried again this often while some wait (and the fallback policy's clock). */
  readonly syncEveryMs: number;
  /** Pushed paths waiting to be read, per relay; more come again at the next listen. */
  readonly readQueueMax: number;
  readonly readsInFlightMax: number;
  /** A read that timed out is tried again this many times. */
  readonly readTriesMax: number;
  /** Paths remembered as handled, so a push repeated on a new connection is not read twice. */
  readonly handledPathsMax: number;
  /** How long an acknowledgement lives on the receiver's relays: a sender away a week still finds it. */
  readonly ackTtlMs: number;
  /** Acknowledgements waiting for an own relay to come up; the oldest are dropped beyond it. */
  readonly ackQueueMax: number;
  /** Acknowledgements of this user's records kept for audits; the oldest are dropped beyond it. */
  readonly acksKeptMax: number;
  /** Usage entries one audit collects. */
  readonly auditEntriesMax: number;
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
  auditEntriesMax: 100_000,
};

/** A row of the node's `relay` table: `out:<outbox key>` (relays holding it) or `ack:<relay hex> <path>`. */
export interface MailboxRow {
  readonly table: 'relay';
  readonly key: string;
  readonly value: Uint8Array;
}

const readWritten = expectArrayOf(expectBytes(32), { min: 0, max: 64 });
const readAck = expectStruct({
  relay: expectBytes(32),
  path: expectText(128),
  at: expectUint(),
  receipt: expectNullable(expectBytes({ min: 1, max: 1024 })),
});

export function encodeWrittenRow(relays: ReadonlySet<string>): Uint8Array {
  return encodeCanonical([...relays].map((hex) => unwrap(fromHex(hex))));
}

/** Undefined for a row that does not read back (written by another version, or damaged). */
export function decodeWrittenRow(bytes: Uint8Array): Set<string> | undefined {
  const read = decodeWith(bytes, readWritten);
  return read.ok ? new Set(read.value.map((key) => toHex(key))) : undefined;
}

export function encodeAckRow(ack: Ack): Uint8Array {
  return encodeCanonical({ relay: ack.relay, path: ack.path, at: ack.at, receipt: ack.receipt });
}

export function decodeAckRow(bytes: Uint8Array): Ack | undefined {
  const read: Result<Ack, unknown> = decodeWith(bytes, readAck);
  return read.ok ? read.value : undefined;
}
