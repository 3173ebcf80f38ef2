import {
  BoundedLru,
  type MessagingId,
  type Millis,
  type NodeId,
  UsageError,
  bytesEqual,
  toHex,
} from '@postern/core';
import { envelopeDedupeKey, parseEnvelope, seal, verifyEnvelope } from '@postern/envelope';
import { IdentityLimits, recipientKeys } from '@postern/identity';
import { type MessageBody, encodeBody } from './body.ts';
import type { ReplicantCore } from './core.ts';
import type { ReplicantMessage } from './messages.ts';
import { Outbox, type OutboxEntry, isFinished } from './outbox.ts';
import { type Contact, type Pending, replicantTickets } from './peers.ts';
import { type OutboxRow, decodeRow, encodeRow } from './state.ts';
import { envelopeDigest, openStatement } from './statements.ts';

export interface SendOptions {
  readonly ttlMs: number;
  /** May the recipient's replicants hold it when direct delivery fails? (the envelope's flag) */
  readonly isReplicated: boolean;
}

/**
 * The sender's side: the outbox and the states a message moves through — queued, stored (a
 * replicant's signed ack), delivered (the recipient's signed receipt), expired. A message is tried
 * directly when the recipient's reach is known, else at each of its replicants, again with backoff
 * and at once when the recipient announces itself, until delivered or expired.
 */
export class Sending {
  readonly outbox = new Outbox();
  readonly #core: ReplicantCore;
  /** Replicants that answered "full", and until when this node does not ask them again. */
  readonly #fullUntil: BoundedLru<string, number>;

  constructor(core: ReplicantCore) {
    this.#core = core;
    this.#fullUntil = new BoundedLru(core.limits.contactsMax);
  }

  /** Seals a body to a contact, keeps it in the outbox (persisted) and makes the first try. */
  enqueue(
    contact: Contact,
    body: MessageBody,
    options: SendOptions,
    now: Millis,
    system: boolean,
  ): OutboxEntry {
    const core = this.#core;
    const env = seal(core.crypto, core.identity, recipientKeys(contact.document), encodeBody(body), {
      ttlMs: options.ttlMs,
      isReplicated: options.isReplicated,
      now: core.wall(now) as Millis,
    });
    const header = verifyEnvelope(core.crypto, env, core.wall(now) as Millis);
    if (!header.ok) {
      throw new UsageError(
        'REPLICANT_SEAL_FAILED',
        `a fresh envelope failed its own check: ${header.error.code}`,
      );
    }
    const key = envelopeDedupeKey(header.value);
    const row: OutboxRow = { env, state: 'queued', acks: [], receipt: null, at: core.wall(now), system };
    const entry: OutboxEntry = {
      key,
      recipient: contact.hex,
      header: header.value,
      digest: envelopeDigest(core.crypto, env),
      row,
      storedBy: new Set(),
      tries: 0,
    };
    this.outbox.add(entry);
    core.persist('outbox', key, encodeRow(row));
    if (!system) core.emit({ type: 'outbox', key, recipient: contact.id, state: 'queued' });
    this.attempt(entry, now);
    return entry;
  }

  /** One try of an unfinished message: direct if the recipient's reach is known, else its replicants. */
  attempt(entry: OutboxEntry, now: Millis): void {
    if (isFinished(entry.row)) return;
    const core = this.#core;
    const until = entry.header.timestampMs + entry.header.ttlMs;
    if (core.wall(now) >= until) return this.#expire(entry, now);
    entry.tries++;
    const contact = core.peers.get(entry.recipient);
    if (contact?.reach != null) this.sendDirect(entry, contact, now);
    else this.handToReplicants(entry, now);
    const next = now + core.backoff(entry.tries);
    core.timers.set(`out:${entry.key}`, Math.min(next, until - core.wallOffset));
  }

  /** The recipient is online: every unfinished message to it is tried directly now. */
  recipientOnline(contact: Contact, now: Millis): void {
    for (const entry of this.outbox.pendingFor(contact.hex)) this.sendDirect(entry, contact, now);
  }

  sendDirect(entry: OutboxEntry, contact: Contact, now: Millis): void {
    if (contact.reach === null || this.#core.inFlight(`direct:${entry.key}`)) return;
    const message = { t: 'deliver', env: entry.row.env } as const;
    this.#core.request(contact.reach.node, message, { kind: 'direct', key: entry.key }, now);
  }

  handToReplicants(entry: OutboxEntry, now: Millis): void {
    const core = this.#core;
    const contact = core.peers.get(entry.recipient);
    if (!entry.header.isReplicated || contact === undefined || isFinished(entry.row)) return;
    for (const ticket of replicantTickets(contact)) {
      const replicant = toHex(ticket.signer);
      const full = this.#fullUntil.get(replicant) ?? 0;
      if (entry.storedBy.has(replicant) || full > now || core.inFlight(`hold:${entry.key}:${replicant}`))
        continue;
      const message = { t: 'hold', env: entry.row.env } as const;
      core.request(ticket.body.node, message, { kind: 'hold', key: entry.key, replicant }, now);
    }
  }

  onHoldAnswer(pending: Extract<Pending, { kind: 'hold' }>, message: ReplicantMessage, now: Millis): void {
    const core = this.#core;
    const entry = this.outbox.get(pending.key);
    if (message.t === 'refused') {
      if (message.code === 'REPLICANT_FULL') this.#fullUntil.set(pending.replicant, now + message.retryMs);
      return;
    }
    if (message.t !== 'stored' || entry === undefined) return;
    const ack = openStatement(core.crypto, message.ack, 'stored');
    const valid =
      ack.ok &&
      toHex(ack.value.signer) === pending.replicant &&
      bytesEqual(ack.value.body.sender, core.messagingId) &&
      bytesEqual(ack.value.body.recipient, entry.header.recipient) &&
      bytesEqual(ack.value.body.id, entry.header.id) &&
      bytesEqual(ack.value.body.digest, entry.digest);
    if (!valid) return core.misbehaved(pending.to, 'REPLICANT_BAD_STORE_ACK');
    if (entry.storedBy.has(pending.replicant)) return;
    entry.storedBy.add(pending.replicant);
    const state = entry.row.state === 'queued' ? 'stored' : entry.row.state;
    // The newest acks, as many as a user can have replicants (replicants come and go).
    const acks = [...entry.row.acks, message.ack].slice(-IdentityLimits.replicantsMax);
    this.#update(entry, { ...entry.row, state, acks }, { by: ack.value.signer });
  }

  onDirectAnswer(
    pending: Extract<Pending, { kind: 'direct' }>,
    message: ReplicantMessage,
    now: Millis,
  ): void {
    const entry = this.outbox.get(pending.key);
    if (entry === undefined) return;
    if (message.t === 'receipt') {
      if (!this.#applyReceipt(entry, message.r)) this.#core.misbehaved(pending.to, 'REPLICANT_BAD_RECEIPT');
      return;
    }
    this.handToReplicants(entry, now);
  }

  /** A direct try timed out (or the dial failed): the replicants, now. */
  onDirectTimeout(pending: Extract<Pending, { kind: 'direct' }>, now: Millis): void {
    const entry = this.outbox.get(pending.key);
    if (entry !== undefined) this.handToReplicants(entry, now);
  }

  /** Receipts for this user's messages, from their recipients (directly, or sealed through our replicants). */
  applyReceipts(from: NodeId | undefined, receipts: readonly Uint8Array[]): void {
    const core = this.#core;
    for (const bytes of receipts) {
      const receipt = openStatement(core.crypto, bytes, 'receipt');
      if (!receipt.ok) continue;
      const key = envelopeDedupeKey({ sender: core.messagingId, id: receipt.value.body.id });
      const entry = this.outbox.get(key);
      if (entry !== undefined && !this.#applyReceipt(entry, bytes) && from !== undefined)
        core.misbehaved(from, 'REPLICANT_BAD_RECEIPT');
    }
  }

  /**
   * A relay of this user's answered a write of the message, signed: stored, as a replicant's ack
   * makes it (the relay's answer is not kept; the relay mailbox remembers where it wrote).
   */
  storedOnRelay(key: string, relay: Uint8Array): void {
    const entry = this.outbox.get(key);
    if (entry === undefined || entry.row.state !== 'queued') return;
    this.#update(entry, { ...entry.row, state: 'stored' }, { relay });
  }

  /** Reads back an outbox row; unfinished messages are tried again at once. */
  restore(key: string, value: Uint8Array, now: Millis): string | undefined {
    const core = this.#core;
    const read = decodeRow('outbox', value);
    if (!read.ok) return read.error.code;
    const parsed = parseEnvelope(read.value.env);
    if (!parsed.ok) return parsed.error.code;
    const header = parsed.value;
    const storedBy = new Set<string>();
    for (const ack of read.value.acks) {
      const opened = openStatement(core.crypto, ack, 'stored');
      if (opened.ok) storedBy.add(toHex(opened.value.signer));
    }
    const entry: OutboxEntry = {
      key,
      recipient: toHex(header.recipient),
      header,
      digest: envelopeDigest(core.crypto, read.value.env),
      row: read.value,
      storedBy,
      tries: 0,
    };
    this.outbox.add(entry);
    if (!isFinished(entry.row)) core.timers.set(`out:${key}`, now);
    return undefined;
  }

  /** A receipt signed by the recipient for exactly this envelope: delivered. False if it is not one. */
  #applyReceipt(entry: OutboxEntry, bytes: Uint8Array): boolean {
    const core = this.#core;
    const receipt = openStatement(core.crypto, bytes, 'receipt');
    const valid =
      receipt.ok &&
      bytesEqual(receipt.value.signer, entry.header.recipient) &&
      bytesEqual(receipt.value.body.sender, core.messagingId) &&
      bytesEqual(receipt.value.body.id, entry.header.id) &&
      bytesEqual(receipt.value.body.digest, entry.digest);
    if (!valid) return false;
    if (entry.row.state === 'delivered') return true;
    core.timers.clear(`out:${entry.key}`);
    this.#update(entry, { ...entry.row, state: 'delivered', receipt: bytes });
    return true;
  }

  #expire(entry: OutboxEntry, now: Millis): void {
    this.#core.timers.clear(`out:${entry.key}`);
    this.#update(entry, { ...entry.row, state: 'expired', at: this.#core.wall(now) });
  }

  #update(entry: OutboxEntry, row: OutboxRow, who: { by?: MessagingId; relay?: Uint8Array } = {}): void {
    const core = this.#core;
    const changed = row.state !== entry.row.state;
    const dropped = this.outbox.update(entry, row, core.limits.outboxFinishedMax);
    core.persist('outbox', entry.key, encodeRow(row));
    for (const key of dropped) core.persist('outbox', key, undefined);
    if (changed && !row.system) {
      core.emit({
        type: 'outbox',
        key: entry.key,
        recipient: entry.header.recipient,
        state: row.state,
        ...who,
      });
    }
  }
}
