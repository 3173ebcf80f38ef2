import {
  BoundedLru,
  type MessagingId,
  type Millis,
  type NodeId,
  type Result,
  bytesEqual,
  err,
  ok,
  toHex,
} from '@postern/core';
import { type EnvelopeError, envelopeDedupeKey, open, parseEnvelope } from '@postern/envelope';
import { decodeWith, encodeCanonical, expectArrayOf, expectBytes } from '@postern/wire';
import { decodeBody } from './body.ts';
import type { ReplicantCore } from './core.ts';
import { Inbox } from './inbox.ts';
import { RECEIPTS_PER_MESSAGE_MAX, type ReplicantMessage } from './messages.ts';
import { type Pending, replicantTickets } from './peers.ts';
import type { Sending } from './sending.ts';
import { type Table, decodeRow, encodeRow } from './state.ts';
import { type Reach, STATEMENT_BYTES_MAX, envelopeDigest, signStatement } from './statements.ts';

/** A receipt is kept this long past its envelope's expiry: a sender back a day late still learns "delivered". */
const RECEIPT_GRACE_MS = 24 * 3_600_000;
const SWEEP_EVERY_MS = 3_600_000;
/** Who handed an envelope over: a node over a link, or a relay (its key) the recipient pulled from. */
type Source = { readonly node: NodeId } | { readonly relay: Uint8Array };
/** Envelope failures only the sender can cause (it signed them): the deliverer is not to blame. */
const SENDER_FAULTS: ReadonlySet<string> = new Set([
  'ENVELOPE_NOT_FOR_RECIPIENT',
  'ENVELOPE_DECRYPT_FAILED',
  'ENVELOPE_BAD_PADDING',
]);

/**
 * The recipient's side: envelopes opened (a bad one refused and its deliverer named), deduplicated
 * by (sender, id) across every path and restart, kept in the inbox before the signed receipt
 * leaves; and the same receipt carried to the sender, directly or, if it is away, sealed through
 * its own replicants.
 */
export class Receiving {
  readonly inbox = new Inbox();
  readonly #core: ReplicantCore;
  readonly #sending: Sending;
  /** Reach of senders who are not contacts, from their sealed bodies, so receipts can reach them. */
  readonly #senderReach: BoundedLru<string, Reach>;

  constructor(core: ReplicantCore, sending: Sending) {
    this.#core = core;
    this.#sending = sending;
    this.#senderReach = new BoundedLru(core.limits.contactsMax);
  }

  onDeliver(from: NodeId, rid: number, env: Uint8Array, now: Millis): void {
    const core = this.#core;
    const taken = this.#take(env, { node: from }, now);
    if (taken.ok) return core.reply(from, { t: 'receipt', rid, r: taken.value.receipt });
    const { code } = taken.error;
    if (code === 'REPLICANT_INBOX_FULL' || code === 'REPLICANT_STRANGERS_FULL')
      return core.refuse(from, rid, code, false, core.limits.retryMaxMs);
    this.#refuseEnvelope(from, rid, env, code as EnvelopeError['code']);
  }

  /**
   * An envelope read from a relay (its record signed by its sender, checked by the relay client):
   * opened, deduplicated and kept like any other. Returns its key and the signed receipt, which the
   * relay acknowledgement carries back; an envelope that does not open is its sender's doing.
   */
  takeFromRelay(
    relay: Uint8Array,
    env: Uint8Array,
    now: Millis,
  ): Result<{ key: string; receipt: Uint8Array }, { code: string }> {
    const taken = this.#take(env, { relay }, now);
    // The record carries its sender's signature over exactly these bytes: an envelope that does not
    // open was made so by its sender — unless it is only out of date by our clock.
    const { code } = taken.ok ? { code: '' } : taken.error;
    if (code.startsWith('ENVELOPE_') && code !== 'ENVELOPE_EXPIRED' && code !== 'ENVELOPE_FROM_FUTURE') {
      const parsed = parseEnvelope(env);
      if (parsed.ok) this.#core.emit({ type: 'sender-misbehaved', sender: parsed.value.sender, code });
    }
    return taken;
  }

  /** Opens an envelope and keeps it unless seen already; the receipt is the same either way. */
  #take(
    env: Uint8Array,
    source: Source,
    now: Millis,
  ): Result<{ key: string; receipt: Uint8Array }, { code: string }> {
    const core = this.#core;
    const opened = open(core.crypto, core.identity, env, core.wall(now) as Millis);
    if (!opened.ok) return err({ code: opened.error.code });
    const envelope = opened.value;
    const key = envelopeDedupeKey(envelope);
    const digest = envelopeDigest(core.crypto, env);
    const receipt = signStatement(core.crypto, core.identity, 'receipt', {
      sender: envelope.sender,
      id: envelope.id,
      digest,
      at: core.wall(now),
    });
    if (!this.inbox.hasSeen(key)) {
      const refusal = this.#accept(source, key, envelope, receipt.bytes, now);
      if (refusal !== undefined) return err({ code: refusal });
    }
    return ok({ key, receipt: receipt.bytes });
  }

  /** Seen already (kept, or read and deleted, and not yet expired). */
  hasSeen(key: string): boolean {
    return this.inbox.hasSeen(key);
  }

  /** The application has read a message: it leaves the inbox (its key stays seen until it expires). */
  deleteMessage(key: string): boolean {
    if (!this.inbox.remove(key)) return false;
    this.#core.persist('inbox', key, undefined);
    return true;
  }

  /**
   * An envelope that does not open. Who is to blame depends on what failed: a signature or format
   * failure means the bytes were changed on the way (the deliverer is named); a signed envelope
   * that is not for us or does not decrypt was made so by its sender (the sender is named, the
   * deliverer is not). Every such refusal is final (retryMs 0): the deliverer drops the envelope.
   */
  #refuseEnvelope(from: NodeId, rid: number, env: Uint8Array, code: EnvelopeError['code']): void {
    const core = this.#core;
    if (SENDER_FAULTS.has(code)) {
      const parsed = parseEnvelope(env);
      if (parsed.ok) core.emit({ type: 'sender-misbehaved', sender: parsed.value.sender, code });
      return core.refuse(from, rid, code);
    }
    core.refuse(from, rid, code, code !== 'ENVELOPE_EXPIRED' && code !== 'ENVELOPE_FROM_FUTURE');
  }

  /** Sends a sender the receipts waiting for it; mails them through its replicants if it cannot be reached. */
  flushReceipts(sender: string, now: Millis): void {
    const core = this.#core;
    if (core.inFlight(`receipts:${sender}`)) return;
    const reach = core.peers.get(sender)?.reach ?? this.#senderReach.get(sender);
    const batch = this.inbox.receiptsFor(sender).slice(0, core.limits.receiptsPerMessageMax);
    if (batch.length === 0) return;
    if (reach == null) return void this.#mailReceipts(sender, now);
    const keys = batch.map(([key]) => key);
    const message = { t: 'receipts', rs: batch.map(([, row]) => row.r) } as const;
    core.request(reach.node, message, { kind: 'receipts', sender, keys }, now);
  }

  onReceiptsAnswer(
    pending: Extract<Pending, { kind: 'receipts' }>,
    message: ReplicantMessage,
    now: Millis,
  ): void {
    if (message.t !== 'ok') return;
    for (const key of pending.keys) {
      this.inbox.removeReceipt(key, pending.sender);
      this.#core.persist('receipt', key, undefined);
    }
    this.flushReceipts(pending.sender, now);
  }

  onReceiptsTimeout(pending: Extract<Pending, { kind: 'receipts' }>, now: Millis): void {
    if (this.#mailReceipts(pending.sender, now)) return;
    this.#core.timers.setEarlier(`receipts:${pending.sender}`, now + this.#core.limits.retryMaxMs);
  }

  /** Hourly: forgets seen keys and receipts whose envelopes expired (they can never come back). */
  sweep(now: Millis): void {
    const core = this.#core;
    const wall = core.wall(now);
    for (const key of this.inbox.expiredSeen(wall)) core.persist('seen', key, undefined);
    for (const [key, row] of this.inbox.expiredReceipts(wall)) {
      this.inbox.removeReceipt(key, toHex(row.sender));
      core.persist('receipt', key, undefined);
    }
    core.timers.set('sweep', now + SWEEP_EVERY_MS);
  }

  /** Addresses of a node this side learnt from a sealed body (a sender that is not a contact). */
  addressesOf(nodeHex: string): readonly string[] | undefined {
    return [...this.#senderReach.entries()].find(([, r]) => toHex(r.node) === nodeHex)?.[1].addrs;
  }

  restore(
    table: Extract<Table, 'inbox' | 'seen' | 'receipt'>,
    key: string,
    value: Uint8Array,
  ): string | undefined {
    if (table === 'inbox') {
      const read = decodeRow('inbox', value);
      if (!read.ok) return read.error.code;
      this.inbox.add(key, read.value, read.value.stranger);
    } else if (table === 'seen') {
      const read = decodeRow('seen', value);
      if (!read.ok) return read.error.code;
      this.inbox.markSeen(key, read.value.until);
    } else {
      const read = decodeRow('receipt', value);
      if (!read.ok) return read.error.code;
      this.inbox.addReceipt(key, read.value, toHex(read.value.sender));
    }
    return undefined;
  }

  #accept(
    source: Source,
    key: string,
    envelope: { sender: MessagingId; id: Uint8Array; timestampMs: number; ttlMs: number; body: Uint8Array },
    receipt: Uint8Array,
    now: Millis,
  ): string | undefined {
    const core = this.#core;
    const body = decodeBody(envelope.body);
    const until = envelope.timestampMs + envelope.ttlMs;
    if (this.inbox.seenCount >= core.limits.seenMax) return 'REPLICANT_INBOX_FULL';
    if (body.ok && body.value.kind === 'receipts')
      return this.#acceptReceipts(source, key, until, body.value.content);
    const content = body.ok ? body.value.content : envelope.body;
    const reply = body.ok ? body.value.reply : null;
    const sender = toHex(envelope.sender);
    const stranger = !core.peers.has(sender);
    const full =
      this.inbox.messages.size >= core.limits.inboxMax ||
      this.inbox.bytes + content.length > core.limits.inboxBytesMax;
    if (full) return 'REPLICANT_INBOX_FULL';
    if (stranger && this.inbox.fromStrangers >= core.limits.strangerMessagesMax)
      return 'REPLICANT_STRANGERS_FULL';
    const senderNode = core.peers.get(sender)?.reach?.node ?? reply?.node;
    const via =
      'relay' in source
        ? 'relay'
        : senderNode !== undefined && bytesEqual(senderNode, source.node)
          ? 'direct'
          : 'replicant';
    const row = {
      sender: envelope.sender,
      id: envelope.id,
      content,
      sentAt: envelope.timestampMs,
      receivedAt: core.wall(now),
      via,
      stranger,
    } as const;
    this.inbox.add(key, row, stranger);
    this.inbox.markSeen(key, until);
    core.persist('inbox', key, encodeRow(row));
    core.persist('seen', key, encodeRow({ until }));
    core.emit({ type: 'message', key, sender: envelope.sender, content, sentAt: envelope.timestampMs, via });
    // The sender also gets this same receipt on its own: through a replicant it has no other way to
    // learn of the delivery, and even a direct answer can be lost. A direct sender most likely has
    // it already, so that copy waits a little (and travels batched with others).
    if (reply !== null && stranger) this.#senderReach.set(sender, reply);
    this.#queueReceipt(key, sender, { r: receipt, sender: envelope.sender, until: until + RECEIPT_GRACE_MS });
    if (via !== 'direct') this.flushReceipts(sender, now);
    else core.timers.setEarlier(`receipts:${sender}`, now + core.limits.retryMinMs);
    return undefined;
  }

  /** An envelope of receipts for this user's own messages: applied, remembered as seen, not shown. */
  #acceptReceipts(source: Source, key: string, until: number, content: Uint8Array): undefined {
    this.inbox.markSeen(key, until);
    this.#core.persist('seen', key, encodeRow({ until }));
    const receipts = decodeReceiptList(content);
    // Through a relay the record is the sender's own signed doing: no peer to name.
    const blame = 'node' in source ? source.node : undefined;
    if (receipts === undefined) {
      if (blame !== undefined) this.#core.misbehaved(blame, 'REPLICANT_BAD_RECEIPTS');
    } else this.#sending.applyReceipts(blame, receipts);
    return undefined;
  }

  /**
   * Receipts a sender did not take directly go to it the way messages do: sealed to it, through its
   * replicants if it is away. Only for contacts (their documents give the key to seal to).
   */
  #mailReceipts(sender: string, now: Millis): boolean {
    const core = this.#core;
    const contact = core.peers.get(sender);
    const batch = this.inbox.receiptsFor(sender).slice(0, core.limits.receiptsPerMessageMax);
    if (contact === undefined || replicantTickets(contact).length === 0 || batch.length === 0) return false;
    if (this.#sending.outbox.unfinished >= core.limits.outboxMax) return false;
    const content = encodeReceiptList(batch.map(([, row]) => row.r));
    const body = { kind: 'receipts', content, reply: null } as const;
    this.#sending.enqueue(contact, body, { ttlMs: core.limits.heldTtlMsMax, isReplicated: true }, now, true);
    for (const [key] of batch) {
      this.inbox.removeReceipt(key, sender);
      core.persist('receipt', key, undefined);
    }
    return true;
  }

  #queueReceipt(
    key: string,
    sender: string,
    row: { r: Uint8Array; sender: Uint8Array; until: number },
  ): void {
    const core = this.#core;
    while (this.inbox.receiptCount >= core.limits.pendingReceiptsMax) {
      const oldest = this.inbox.oldestReceipt();
      if (oldest === undefined) break;
      this.inbox.removeReceipt(oldest[0], toHex(oldest[1].sender));
      core.persist('receipt', oldest[0], undefined);
      core.emit({ type: 'receipt-dropped', key: oldest[0] });
    }
    this.inbox.addReceipt(key, row, sender);
    core.persist('receipt', key, encodeRow(row));
  }
}

const readReceiptList = expectArrayOf(expectBytes({ min: 1, max: STATEMENT_BYTES_MAX }), {
  min: 1,
  max: RECEIPTS_PER_MESSAGE_MAX,
});

function encodeReceiptList(receipts: readonly Uint8Array[]): Uint8Array {
  return encodeCanonical([...receipts]);
}

function decodeReceiptList(bytes: Uint8Array): Uint8Array[] | undefined {
  const read = decodeWith(bytes, readReceiptList);
  return read.ok ? read.value : undefined;
}

export { SWEEP_EVERY_MS };
