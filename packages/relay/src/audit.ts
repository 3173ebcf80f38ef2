import { type Millis, type Result, bytesEqual, err, ok, toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { type EnvelopeRecipient, open, seal } from '@postern/envelope';
import type { Identity, RecipientKeys } from '@postern/identity';
import {
  type WireError,
  decodeWith,
  encodeCanonical,
  expectBytes,
  expectLiteral,
  expectNullable,
  expectStruct,
  expectText,
  expectUint,
} from '@postern/wire';
import { formatPath, parsePath } from './paths.ts';
import type { UsageEntry } from './store.ts';

/**
 * Seed 003's audit: "when a friend retrieves a message, they place an acknowledge response on their
 * own contracted servers", so a sender can set what each relay charged it (usage reports) beside
 * what was delivered (acknowledgements). An acknowledgement is a record with tag ACK_TAG whose
 * content is an envelope sealed to the sender and signed by the receiver, holding which record it
 * took from which relay and when: the receiver's relay carries it without learning any of that.
 * Spec: docs/protocols/relay.md ("Usage and audit").
 */
export const ACK_TAG = 'ack';

export interface Ack {
  /** The relay the record was read from (its key). */
  readonly relay: Uint8Array;
  /** The record's path there: its receiver is the acknowledging user, its sender the ack's recipient. */
  readonly path: string;
  /** When the receiver read it (its clock, ms). */
  readonly at: number;
  /**
   * The receiver's own delivery receipt for the envelope, if it gives one (Postern's signed
   * receipt statement, opaque here): the sender learns "delivered" from the acknowledgement alone.
   */
  readonly receipt: Uint8Array | null;
}

/** A receipt statement is a few hundred bytes; this bounds what an acknowledgement carries. */
const ACK_RECEIPT_BYTES_MAX = 1024;

export type AckError =
  | { code: 'RELAY_ACK_ENVELOPE'; reason: string }
  | { code: 'RELAY_ACK_MALFORMED'; error: WireError }
  | { code: 'RELAY_ACK_MISMATCH'; reason: string };

const readAck = expectStruct({
  type: expectLiteral('relay-ack'),
  relay: expectBytes(32),
  path: expectText(128),
  at: expectUint(),
  receipt: expectNullable(expectBytes({ min: 1, max: ACK_RECEIPT_BYTES_MAX })),
});

/** The content of an acknowledgement record, from the receiver to the record's sender. */
export function sealAck(
  crypto: CryptoProvider,
  receiver: Pick<Identity, 'messagingId' | 'signingKey'>,
  sender: RecipientKeys,
  ack: Ack,
  options: { ttlMs: number; now: Millis },
): Uint8Array {
  const body = encodeCanonical({
    type: 'relay-ack',
    relay: ack.relay,
    path: ack.path,
    at: ack.at,
    receipt: ack.receipt,
  });
  return seal(crypto, receiver, sender, body, {
    ttlMs: options.ttlMs,
    isReplicated: false,
    now: options.now,
  });
}

/**
 * Opens an acknowledgement record's content as the sender: the envelope must be signed by the
 * record's receiver and the path must be a record from this sender to that receiver.
 */
export function openAck(
  crypto: CryptoProvider,
  sender: EnvelopeRecipient,
  content: Uint8Array,
  now: Millis,
): Result<Ack & { receiver: Uint8Array }, AckError> {
  const opened = open(crypto, sender, content, now);
  if (!opened.ok) return err({ code: 'RELAY_ACK_ENVELOPE', reason: opened.error.code });
  const ack = decodeWith(opened.value.body, readAck);
  if (!ack.ok) return err({ code: 'RELAY_ACK_MALFORMED', error: ack.error });
  const path = parsePath(ack.value.path);
  if (!path.ok) return err({ code: 'RELAY_ACK_MISMATCH', reason: path.error });
  if (!bytesEqual(path.value.receiver, opened.value.sender)) {
    return err({ code: 'RELAY_ACK_MISMATCH', reason: 'acknowledges a record to someone else' });
  }
  if (!bytesEqual(path.value.sender, sender.messagingId)) {
    return err({ code: 'RELAY_ACK_MISMATCH', reason: 'acknowledges a record from someone else' });
  }
  return ok({
    relay: ack.value.relay,
    path: ack.value.path,
    at: ack.value.at,
    receipt: ack.value.receipt,
    receiver: opened.value.sender,
  });
}

/** One record a sender wrote, as its relay charged for it and as its receiver acknowledged it. */
export interface AuditRow {
  readonly relay: Uint8Array;
  readonly path: string;
  readonly receiver: Uint8Array;
  /** Pulls the relay's usage reports charge for. */
  readonly charged: number;
  readonly chargedBytes: number;
  /** The receiver's acknowledgement, if one came back. */
  readonly deliveredAt: number | undefined;
}

/**
 * Sets usage beside acknowledgements, per record and relay. `acks` must come from `openAck` (checked
 * as the receiver's and for a record of this sender). A row charged and never acknowledged
 * is a read the receiver did not confirm (someone else's pulls are impossible: only the receiver may
 * read); a row acknowledged and not charged is a relay undercounting (or a report not yet fetched).
 */
export function auditDeliveries(
  usage: readonly { relay: Uint8Array; entries: readonly UsageEntry[] }[],
  acks: readonly Ack[],
): AuditRow[] {
  const rows = new Map<string, { -readonly [K in keyof AuditRow]: AuditRow[K] }>();
  const row = (relay: Uint8Array, path: string, receiver: Uint8Array) => {
    const key = `${toHex(relay)} ${path}`;
    let found = rows.get(key);
    if (found === undefined) {
      found = { relay, path, receiver, charged: 0, chargedBytes: 0, deliveredAt: undefined };
      rows.set(key, found);
    }
    return found;
  };
  for (const report of usage) {
    for (const entry of report.entries) {
      // A usage entry names its receiver twice; one that disagrees with itself is not counted.
      if (!bytesEqual(entry.receiver, entry.path.receiver)) continue;
      const r = row(report.relay, formatPath(entry.path), entry.receiver);
      r.charged++;
      r.chargedBytes += entry.bytes;
    }
  }
  for (const ack of acks) {
    const parsed = parsePath(ack.path);
    if (!parsed.ok) continue;
    const r = row(ack.relay, ack.path, parsed.value.receiver);
    r.deliveredAt = r.deliveredAt === undefined ? ack.at : Math.min(r.deliveredAt, ack.at);
  }
  return [...rows.values()];
}
