import {
  BoundedLru,
  type MessagingId,
  type Millis,
  type NodeId,
  type Output,
  type Result,
  type Rng,
  UsageError,
  bytesEqual,
  err,
  fromHex,
  ok,
  toHex,
  unwrap,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { envelopeDedupeKey, open, parseEnvelope, seal, verifyEnvelope } from '@postern/envelope';
import {
  type Identity,
  type IdentityDocument,
  IdentityLimits,
  decodeIdentityRecord,
  encodeIdentityRecord,
  recipientKeys,
  updateIdentity,
  verifyIdentityDocument,
} from '@postern/identity';
import { type MessageBody, decodeBody, encodeBody } from './body.ts';
import type { ReplicantEvent } from './events.ts';
import { Holder } from './holder.ts';
import { Inbox } from './inbox.ts';
import { type ReplicantLimits, resolveReplicantLimits } from './limits.ts';
import { decodeWith, encodeCanonical, expectArrayOf, expectBytes } from '@postern/wire';
import {
  RECEIPTS_PER_MESSAGE_MAX,
  RID_MAX,
  type ReplicantMessage,
  decodeReplicantMessage,
  encodeReplicantMessage,
} from './messages.ts';
import { Outbox, type OutboxEntry, isFinished } from './outbox.ts';
import { type Contact, type Pending, type Peers, replicantTickets } from './peers.ts';
import {
  type DutyRow,
  type NominationRow,
  type OutboxRow,
  type Row,
  type Table,
  decodeRow,
  encodeRow,
} from './state.ts';
import {
  type Reach,
  type Role,
  STATEMENT_BYTES_MAX,
  type Signed,
  type Terms,
  envelopeDigest,
  openStatement,
  signStatement,
} from './statements.ts';
import { Timers } from './timers.ts';

export interface SendOptions {
  readonly ttlMs: number;
  /** May the recipient's replicants hold it when direct delivery fails? (the envelope's flag) */
  readonly isReplicated: boolean;
}

export interface ReplicantOptions {
  readonly crypto: CryptoProvider;
  readonly identity: Identity;
  /** This node's id (the transport key's hash): where contacts reach this user. */
  readonly node: NodeId;
  readonly rng: Rng;
  /** Wall clock = monotonic `now` + this (envelope timestamps and expiry are wall-clock). */
  readonly wallClockOffsetMs: number;
  readonly now: Millis;
  readonly limits?: Partial<ReplicantLimits>;
  /** Rows persisted by an earlier incarnation (the `persist` events it emitted, last write wins). */
  readonly rows?: Iterable<Row>;
}

/** The terms a user asks of a replicant when it does not say: the node limits' defaults. */
export const DEFAULT_TERMS: Terms = {
  envelopes: 1_000,
  bytes: 32 * 1024 * 1024,
  ttlMs: 7 * 24 * 3_600_000,
};

/**
 * The Replicant protocol, sans-I/O (STYLE.md): contacts and their presence, nominations, sending
 * (direct, else through the recipient's replicants), holding envelopes for the users this node
 * serves, delivering them when the user returns, receipts. Every change is emitted as a `persist`
 * event before anything that depends on it is transmitted. Spec: docs/protocols/replicant.md.
 */
export class ReplicantMachine {
  readonly limits: ReplicantLimits;
  readonly node: NodeId;
  readonly peers: Peers;
  readonly holder: Holder;
  readonly outbox = new Outbox();
  readonly inbox = new Inbox();
  readonly nominations = new Map<string, NominationRow>();
  readonly #crypto: CryptoProvider;
  readonly #rng: Rng;
  readonly #wallOffset: number;
  readonly #outputs: Output<ReplicantEvent>[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #timers = new Timers();
  /** Reach of senders who are not contacts, from their sealed bodies, so receipts can reach them. */
  readonly #senderReach: BoundedLru<string, Reach>;
  /** Users whose last delivery try timed out: wait for their presence (or the slow retry). */
  readonly #userAway = new Set<string>();
  /** Replicants that answered "full", and until when this node does not ask them again. */
  readonly #fullUntil: BoundedLru<string, number>;
  /** What is in flight, by what it is about (see inFlightKey): at most one request each. */
  readonly #inFlightKeys = new Set<string>();
  #identity: Identity;
  #addrs: readonly string[] = [];
  #presence: Signed<'presence'> | undefined;
  #presenceAt = 0;
  #nextRid: number;

  constructor(options: ReplicantOptions) {
    this.limits = resolveReplicantLimits(options.limits);
    this.#crypto = options.crypto;
    this.#identity = options.identity;
    this.node = options.node;
    this.#rng = options.rng;
    this.#wallOffset = options.wallClockOffsetMs;
    this.#nextRid = 1 + options.rng.int(RID_MAX - 1);
    this.holder = new Holder(this.limits);
    this.peers = new Map();
    this.#senderReach = new BoundedLru(this.limits.contactsMax);
    this.#fullUntil = new BoundedLru(this.limits.contactsMax);
    if (options.rows) this.#restore(options.rows, options.now);
    this.#timers.set('sweep', options.now + SWEEP_EVERY_MS);
  }

  get identity(): Identity {
    return this.#identity;
  }

  get messagingId(): MessagingId {
    return this.#identity.messagingId;
  }

  /** Wall-clock ms (whole: signed times are integers; a simulated clock's `now` may have a fraction). */
  wall(now: Millis): number {
    return Math.floor(now + this.#wallOffset);
  }

  // ---- Commands: reach and presence

  /** Where this node listens (its addresses go to contacts in presence and to users in tickets). */
  setAddresses(addrs: readonly string[], now: Millis): void {
    if (addrs.join() === this.#addrs.join()) return;
    this.#addrs = [...addrs];
    this.#presence = undefined;
    // The users this node serves hand out its ticket: they get one with the new addresses.
    for (const [hex, duty] of this.holder.duties) {
      if (duty.state !== 'serving' || this.#ticketAddrs(duty.ticket) === addrs.join()) continue;
      const user = hexId(hex);
      const accept = this.#role(user, this.messagingId, 'accept', duty.terms, now);
      this.#saveDuty(hex, { ...duty, out: accept.bytes, ticket: this.#ticket(user, now).bytes });
      const contact = this.peers.get(hex);
      if (contact !== undefined) this.#sendRole(contact, now);
    }
  }

  /** Tells every contact with a known reach that this user is online (at start, and after a change). */
  announce(now: Millis): void {
    this.#presence = undefined;
    for (const contact of this.peers.values()) {
      if (contact.reach !== null) this.#sendPresence(contact, false, now);
    }
  }

  // ---- Commands: contacts

  /** Adds (or updates) a contact from its verified identity document; `reach` if it was given too. */
  addContact(
    document: IdentityDocument,
    now: Millis,
    options: { name?: string; reach?: Reach } = {},
  ): Result<
    Contact,
    { code: 'REPLICANT_BAD_DOCUMENT' | 'REPLICANT_CONTACTS_FULL' | 'REPLICANT_SELF'; reason: string }
  > {
    const verified = verifyIdentityDocument(this.#crypto, document);
    if (!verified.ok) return err({ code: 'REPLICANT_BAD_DOCUMENT', reason: verified.error.code });
    if (bytesEqual(document.pubkey, this.messagingId)) {
      return err({ code: 'REPLICANT_SELF', reason: 'this is your own identity' });
    }
    const hex = toHex(document.pubkey);
    const existing = this.peers.get(hex);
    if (existing === undefined && this.peers.size >= this.limits.contactsMax) {
      return err({ code: 'REPLICANT_CONTACTS_FULL', reason: `at most ${this.limits.contactsMax} contacts` });
    }
    const newer = existing === undefined || document.seq >= existing.document.seq;
    const contact: Contact = {
      id: document.pubkey,
      hex,
      document: newer ? document : existing.document,
      name: options.name ?? existing?.name ?? document.label,
      reach: options.reach ?? existing?.reach ?? null,
      reachAt: existing?.reachAt ?? 0,
      tickets: existing?.tickets ?? [],
    };
    this.#saveContact(contact);
    if (contact.reach !== null && existing?.reach == null) this.#sendPresence(contact, false, now);
    return ok(contact);
  }

  /** Updates a contact's document and tickets from the directory (a DHT read), if newer. */
  updateFromDirectory(document: IdentityDocument, tickets: readonly Uint8Array[]): void {
    const contact = this.peers.get(toHex(document.pubkey));
    if (contact === undefined || document.seq < contact.document.seq) return;
    if (!verifyIdentityDocument(this.#crypto, document).ok) return;
    const opened = this.#openTickets(document, tickets);
    this.#saveContact({ ...contact, document, tickets: opened.length > 0 ? opened : contact.tickets });
  }

  removeContact(id: MessagingId): boolean {
    const hex = toHex(id);
    if (!this.peers.delete(hex)) return false;
    this.#persist('contact', hex, undefined);
    return true;
  }

  contact(id: MessagingId): Contact | undefined {
    return this.peers.get(toHex(id));
  }

  // ---- Commands: sending

  /** Seals `content` to a contact and queues it; it moves on as the network allows. Returns its outbox key. */
  send(
    to: MessagingId,
    content: Uint8Array,
    options: SendOptions,
    now: Millis,
  ): Result<string, { code: 'REPLICANT_NOT_A_CONTACT' | 'REPLICANT_OUTBOX_FULL' }> {
    const contact = this.peers.get(toHex(to));
    if (contact === undefined) return err({ code: 'REPLICANT_NOT_A_CONTACT' });
    if (this.outbox.unfinished >= this.limits.outboxMax) return err({ code: 'REPLICANT_OUTBOX_FULL' });
    const body = { kind: 'message', content, reply: { node: this.node, addrs: this.#addrs } } as const;
    return ok(this.#enqueue(contact, body, options, now, false).key);
  }

  /** Seals a body to a contact, keeps it in the outbox (persisted) and makes the first try. */
  #enqueue(
    contact: Contact,
    body: MessageBody,
    options: SendOptions,
    now: Millis,
    system: boolean,
  ): OutboxEntry {
    const env = seal(this.#crypto, this.#identity, recipientKeys(contact.document), encodeBody(body), {
      ttlMs: options.ttlMs,
      isReplicated: options.isReplicated,
      now: this.wall(now) as Millis,
    });
    const header = verifyEnvelope(this.#crypto, env, this.wall(now) as Millis);
    if (!header.ok) {
      throw new UsageError(
        'REPLICANT_SEAL_FAILED',
        `a fresh envelope failed its own check: ${header.error.code}`,
      );
    }
    const key = envelopeDedupeKey(header.value);
    const row: OutboxRow = { env, state: 'queued', acks: [], receipt: null, at: this.wall(now), system };
    const entry: OutboxEntry = {
      key,
      recipient: contact.hex,
      header: header.value,
      digest: envelopeDigest(this.#crypto, env),
      row,
      storedBy: new Set(),
      tries: 0,
    };
    this.outbox.add(entry);
    this.#persist('outbox', key, encodeRow(row));
    if (!system) this.#emit({ type: 'outbox', key, recipient: contact.id, state: 'queued' });
    this.#attempt(entry, now);
    return entry;
  }

  // ---- Commands: nominations (the user's side) and duties (the replicant's side)

  /** Asks a contact to be a replicant of this user; it answers when its person decides. */
  nominate(id: MessagingId, now: Millis, terms: Terms = DEFAULT_TERMS): void {
    const contact = this.#requireContact(id);
    const accepted = [...this.nominations.values()].filter((n) => n.state === 'accepted').length;
    if (accepted >= IdentityLimits.replicantsMax) {
      throw new UsageError(
        'REPLICANT_TOO_MANY',
        `a user has at most ${IdentityLimits.replicantsMax} replicants`,
      );
    }
    const statement = this.#role(this.messagingId, contact.id, 'nominate', terms, now);
    this.#saveNomination(contact.hex, {
      state: 'nominated',
      terms,
      at: this.wall(now),
      out: statement.bytes,
      ticket: null,
    });
    this.#sendRole(contact, now);
  }

  /** Ends a replicant's duty: it is taken off the identity record, and told. */
  revoke(id: MessagingId, now: Millis): void {
    const contact = this.#requireContact(id);
    const nomination = this.nominations.get(contact.hex);
    if (nomination === undefined || nomination.state === 'revoked' || nomination.state === 'refused') {
      throw new UsageError('REPLICANT_NOT_NOMINATED', 'this contact is not a replicant of yours');
    }
    const statement = this.#role(this.messagingId, contact.id, 'revoke', nomination.terms, now);
    this.#saveNomination(contact.hex, {
      ...nomination,
      state: 'revoked',
      at: this.wall(now),
      out: statement.bytes,
      ticket: null,
    });
    this.#publishReplicants(now);
    this.#sendRole(contact, now);
  }

  /** The nominee's answer to a nomination (its person's decision). */
  answerNomination(user: MessagingId, accept: boolean, now: Millis): void {
    const contact = this.#requireContact(user);
    const duty = this.holder.duties.get(contact.hex);
    if (duty === undefined || (duty.state !== 'requested' && !(accept && duty.state === 'serving'))) {
      throw new UsageError('REPLICANT_NO_REQUEST', 'this contact has not asked you to be its replicant');
    }
    const role = accept ? 'accept' : 'refuse';
    const statement = this.#role(contact.id, this.messagingId, role, duty.terms, now);
    const ticket = accept ? this.#ticket(contact.id, now).bytes : null;
    this.#saveDuty(contact.hex, {
      state: accept ? 'serving' : 'refused',
      terms: duty.terms,
      at: this.wall(now),
      out: statement.bytes,
      ticket,
    });
    this.#sendRole(contact, now);
  }

  /** Stops holding new envelopes for a user; what is held is still delivered. */
  resign(user: MessagingId, now: Millis): void {
    const contact = this.#requireContact(user);
    const duty = this.holder.duties.get(contact.hex);
    if (duty?.state !== 'serving')
      throw new UsageError('REPLICANT_NOT_SERVING', 'you are not a replicant of this contact');
    const statement = this.#role(contact.id, this.messagingId, 'resign', duty.terms, now);
    this.#saveDuty(contact.hex, {
      ...duty,
      state: 'ended',
      at: this.wall(now),
      out: statement.bytes,
      ticket: null,
    });
    this.#sendRole(contact, now);
  }

  // ---- Inputs

  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void {
    const decoded = decodeReplicantMessage(bytes);
    if (!decoded.ok) return this.#misbehaved(from, 'REPLICANT_MALFORMED');
    const message = decoded.value;
    switch (message.t) {
      case 'presence':
        return this.#onPresence(from, message, now);
      case 'hold':
        return this.#onHold(from, message.rid, message.env, now);
      case 'deliver':
        return this.#onDeliver(from, message.rid, message.env, now);
      case 'receipts':
        return this.#onReceipts(from, message.rid, message.rs);
      case 'role':
        return this.#onRole(from, message, now);
      default:
        return this.#onAnswer(from, message, now);
    }
  }

  /** The runtime could not reach this node (a refused or failed dial): its requests fail now, not at their timeout. */
  peerUnreachable(node: NodeId, now: Millis): void {
    for (const [rid, pending] of [...this.#pending]) {
      if (bytesEqual(pending.to, node)) this.#onRpcTimeout(rid, now);
    }
  }

  handleTimeout(now: Millis): void {
    for (const name of this.#timers.due(now)) this.#onTimer(name, now);
  }

  pollOutput(): Output<ReplicantEvent> {
    return this.#outputs.shift() ?? { type: 'timeout', at: this.#timers.next() };
  }

  /** Addresses this machine knows for a node (contacts' reach and replicant tickets). */
  addressesOf(node: NodeId): readonly string[] | undefined {
    const hex = toHex(node);
    for (const contact of this.peers.values()) {
      if (contact.reach !== null && toHex(contact.reach.node) === hex) return contact.reach.addrs;
      for (const ticket of contact.tickets) if (toHex(ticket.body.node) === hex) return ticket.body.addrs;
    }
    const reach = [...this.#senderReach.entries()].find(([, r]) => toHex(r.node) === hex);
    return reach?.[1].addrs;
  }

  /** The addresses a ticket of ours gives, joined, or undefined. */
  #ticketAddrs(ticket: Uint8Array | null): string | undefined {
    if (ticket === null) return undefined;
    const opened = openStatement(this.#crypto, ticket, 'ticket');
    return opened.ok ? opened.value.body.addrs.join() : undefined;
  }

  // ---- Restart

  /** Rebuilds the state an earlier incarnation persisted; unreadable rows are skipped with an event. */
  #restore(rows: Iterable<Row>, now: Millis): void {
    for (const row of rows) {
      const reason = this.#restoreRow(row, now);
      if (reason !== undefined) this.#emit({ type: 'state-corrupt', table: row.table, key: row.key, reason });
    }
    // Resume: what waits for someone is tried again (presence brings the rest).
    for (const user of this.holder.usersHolding()) this.#timers.set(`deliver:${user}`, now);
    for (const sender of this.inbox.sendersWithReceipts()) this.#timers.set(`receipts:${sender}`, now);
    for (const hex of [...this.nominations.keys(), ...this.holder.duties.keys()])
      this.#timers.set(`role:${hex}`, now);
  }

  #restoreRow(row: Row, now: Millis): string | undefined {
    switch (row.table) {
      case 'self':
        return this.#restoreSelf(row.value);
      case 'contact':
        return this.#restoreContact(row.key, row.value);
      case 'held':
        return this.#restoreHeld(row.key, row.value, now);
      case 'outbox':
        return this.#restoreOutbox(row.key, row.value, now);
      case 'nomination': {
        const read = decodeRow('nomination', row.value);
        if (!read.ok) return read.error.code;
        this.nominations.set(row.key, read.value);
        return undefined;
      }
      case 'duty': {
        const read = decodeRow('duty', row.value);
        if (!read.ok) return read.error.code;
        this.holder.duties.set(row.key, read.value);
        return undefined;
      }
      case 'inbox': {
        const read = decodeRow('inbox', row.value);
        if (!read.ok) return read.error.code;
        this.inbox.messages.set(row.key, read.value);
        return undefined;
      }
      case 'seen': {
        const read = decodeRow('seen', row.value);
        if (!read.ok) return read.error.code;
        this.inbox.markSeen(row.key, read.value.until);
        return undefined;
      }
      case 'receipt': {
        const read = decodeRow('receipt', row.value);
        if (!read.ok) return read.error.code;
        this.inbox.addReceipt(row.key, read.value, toHex(read.value.sender));
        return undefined;
      }
    }
  }

  #restoreSelf(value: Uint8Array): string | undefined {
    const doc = decodeIdentityRecord(this.#crypto, value);
    if (!doc.ok) return doc.error.code;
    if (!bytesEqual(doc.value.pubkey, this.messagingId)) return 'the document is another identity’s';
    if (doc.value.seq > this.#identity.document.seq)
      this.#identity = { ...this.#identity, document: doc.value };
    return undefined;
  }

  #restoreContact(hex: string, value: Uint8Array): string | undefined {
    const read = decodeRow('contact', value);
    if (!read.ok) return read.error.code;
    const doc = decodeIdentityRecord(this.#crypto, read.value.doc);
    if (!doc.ok) return doc.error.code;
    const { name, reach, reachAt, tickets } = read.value;
    this.peers.set(hex, {
      id: doc.value.pubkey,
      hex,
      document: doc.value,
      name,
      reach: reach === null ? null : { node: reach.node as NodeId, addrs: reach.addrs },
      reachAt,
      tickets: this.#openTickets(doc.value, tickets),
    });
    return undefined;
  }

  #restoreHeld(key: string, env: Uint8Array, now: Millis): string | undefined {
    const parsed = parseEnvelope(env);
    if (!parsed.ok) return parsed.error.code;
    const { sender, id, recipient, timestampMs, ttlMs } = parsed.value;
    const until = Math.min(timestampMs + ttlMs, timestampMs + this.limits.heldTtlMsMax);
    const digest = envelopeDigest(this.#crypto, env);
    this.holder.add({ key, user: toHex(recipient), env, sender, id, digest, until });
    this.#timers.set(`held:${key}`, Math.max(now, until - this.#wallOffset));
    return undefined;
  }

  #restoreOutbox(key: string, value: Uint8Array, now: Millis): string | undefined {
    const read = decodeRow('outbox', value);
    if (!read.ok) return read.error.code;
    const parsed = parseEnvelope(read.value.env);
    if (!parsed.ok) return parsed.error.code;
    const header = parsed.value;
    const storedBy = new Set<string>();
    for (const ack of read.value.acks) {
      const opened = openStatement(this.#crypto, ack, 'stored');
      if (opened.ok) storedBy.add(toHex(opened.value.signer));
    }
    const entry: OutboxEntry = {
      key,
      recipient: toHex(header.recipient),
      header,
      digest: envelopeDigest(this.#crypto, read.value.env),
      row: read.value,
      storedBy,
      tries: 0,
    };
    this.outbox.add(entry);
    if (!isFinished(entry.row)) this.#timers.set(`out:${key}`, now);
    return undefined;
  }

  // ---- Presence

  #selfPresence(now: Millis): Signed<'presence'> {
    // Strictly increasing: contacts keep the newest presence, and two changes can share a millisecond.
    this.#presence ??= signStatement(this.#crypto, this.#identity, 'presence', {
      node: this.node,
      addrs: this.#addrs,
      at: Math.max(this.wall(now), this.#presenceAt + 1),
      doc: encodeIdentityRecord(this.#identity.document),
      tickets: this.acceptedTickets(),
    });
    this.#presenceAt = this.#presence.body.at;
    return this.#presence;
  }

  #sendPresence(contact: Contact | undefined, reply: boolean, now: Millis, tries = 0): void {
    const presence = this.#selfPresence(now);
    // One request per contact and presence: a newer presence (a changed document) goes out at once.
    if (contact?.reach == null || this.#inFlight(`presence:${contact.hex}:${presence.body.at}`)) return;
    const pending = { kind: 'presence', peer: contact.hex, at: presence.body.at, tries, reply } as const;
    this.#request(contact.reach.node, { t: 'presence', p: presence.bytes, reply }, pending, now);
  }

  #onPresence(from: NodeId, message: Extract<ReplicantMessage, { t: 'presence' }>, now: Millis): void {
    const opened = openStatement(this.#crypto, message.p, 'presence');
    if (!opened.ok) return this.#refuse(from, message.rid, 'REPLICANT_BAD_STATEMENT', true);
    const hex = toHex(opened.value.signer);
    const contact = this.peers.get(hex);
    if (contact === undefined) return this.#refuse(from, message.rid, 'REPLICANT_NOT_A_CONTACT');
    const presence = opened.value.body;
    // The link's peer is the node the presence names: a replayed presence cannot redirect a contact.
    if (!bytesEqual(presence.node, from)) return this.#refuse(from, message.rid, 'REPLICANT_WRONG_NODE');
    this.#reply(from, { t: 'ok', rid: message.rid });
    if (presence.at > contact.reachAt) this.#saveContact(this.#fromPresence(contact, presence));
    if (!message.reply) this.#sendPresence(this.peers.get(hex), true, now);
    this.#contactOnline(hex, now);
  }

  #fromPresence(contact: Contact, presence: Signed<'presence'>['body']): Contact {
    const updated = {
      ...contact,
      reach: { node: presence.node, addrs: presence.addrs },
      reachAt: presence.at,
    };
    const doc = decodeIdentityRecord(this.#crypto, presence.doc);
    if (!doc.ok || !bytesEqual(doc.value.pubkey, contact.id) || doc.value.seq < contact.document.seq)
      return updated;
    return { ...updated, document: doc.value, tickets: this.#openTickets(doc.value, presence.tickets) };
  }

  /** A contact is online: everything waiting for it moves. */
  #contactOnline(hex: string, now: Millis): void {
    const contact = this.peers.get(hex);
    if (contact === undefined) return;
    this.#emit({ type: 'contact-online', id: contact.id });
    this.#userAway.delete(hex);
    this.#deliverHeld(hex, now);
    for (const entry of this.outbox.pendingFor(hex)) this.#sendDirect(entry, contact, now);
    this.#flushReceipts(hex, now);
    this.#sendRole(contact, now);
  }

  /** The tickets that hold: each signed by a replicant the document lists, for this user; newest per replicant. */
  #openTickets(document: IdentityDocument, tickets: readonly Uint8Array[]): Signed<'ticket'>[] {
    const listed = new Set(document.replicants.map((id) => toHex(id)));
    const byReplicant = new Map<string, Signed<'ticket'>>();
    for (const bytes of tickets) {
      const ticket = openStatement(this.#crypto, bytes, 'ticket');
      if (!ticket.ok || !bytesEqual(ticket.value.body.user, document.pubkey)) continue;
      const hex = toHex(ticket.value.signer);
      const held = byReplicant.get(hex);
      if (listed.has(hex) && (held === undefined || held.body.at < ticket.value.body.at))
        byReplicant.set(hex, ticket.value);
    }
    return [...byReplicant.values()];
  }

  // ---- Sending

  /** One try of an unfinished message: direct if the recipient's reach is known, else its replicants. */
  #attempt(entry: OutboxEntry, now: Millis): void {
    if (isFinished(entry.row)) return;
    const until = entry.header.timestampMs + entry.header.ttlMs;
    if (this.wall(now) >= until) return this.#expire(entry, now);
    entry.tries++;
    const contact = this.peers.get(entry.recipient);
    if (contact?.reach != null) this.#sendDirect(entry, contact, now);
    else this.#handToReplicants(entry, now);
    const next = now + this.#backoff(entry.tries);
    this.#timers.set(`out:${entry.key}`, Math.min(next, until - this.#wallOffset));
  }

  #sendDirect(entry: OutboxEntry, contact: Contact, now: Millis): void {
    if (contact.reach === null || this.#inFlight(`direct:${entry.key}`)) return;
    this.#request(
      contact.reach.node,
      { t: 'deliver', env: entry.row.env },
      { kind: 'direct', key: entry.key },
      now,
    );
  }

  #handToReplicants(entry: OutboxEntry, now: Millis): void {
    const contact = this.peers.get(entry.recipient);
    if (!entry.header.isReplicated || contact === undefined || isFinished(entry.row)) return;
    for (const ticket of replicantTickets(contact)) {
      const replicant = toHex(ticket.signer);
      const full = this.#fullUntil.get(replicant) ?? 0;
      if (entry.storedBy.has(replicant) || full > now || this.#inFlight(`hold:${entry.key}:${replicant}`))
        continue;
      this.#request(
        ticket.body.node,
        { t: 'hold', env: entry.row.env },
        { kind: 'hold', key: entry.key, replicant },
        now,
      );
    }
  }

  #onHoldAnswer(pending: Extract<Pending, { kind: 'hold' }>, message: ReplicantMessage, now: Millis): void {
    const entry = this.outbox.get(pending.key);
    if (message.t === 'refused') {
      if (message.code === 'REPLICANT_FULL') this.#fullUntil.set(pending.replicant, now + message.retryMs);
      return;
    }
    if (message.t !== 'stored' || entry === undefined) return;
    const ack = openStatement(this.#crypto, message.ack, 'stored');
    const valid =
      ack.ok &&
      toHex(ack.value.signer) === pending.replicant &&
      bytesEqual(ack.value.body.sender, this.messagingId) &&
      bytesEqual(ack.value.body.recipient, entry.header.recipient) &&
      bytesEqual(ack.value.body.id, entry.header.id) &&
      bytesEqual(ack.value.body.digest, entry.digest);
    if (!valid) return this.#misbehaved(pending.to, 'REPLICANT_BAD_STORE_ACK');
    if (entry.storedBy.has(pending.replicant)) return;
    entry.storedBy.add(pending.replicant);
    const state = entry.row.state === 'queued' ? 'stored' : entry.row.state;
    this.#updateOutbox(
      entry,
      { ...entry.row, state, acks: [...entry.row.acks, message.ack] },
      ack.value.signer,
    );
  }

  #onDirectAnswer(
    pending: Extract<Pending, { kind: 'direct' }>,
    message: ReplicantMessage,
    now: Millis,
  ): void {
    const entry = this.outbox.get(pending.key);
    if (entry === undefined) return;
    if (message.t === 'receipt') {
      if (!this.#applyReceipt(entry, message.r)) this.#misbehaved(pending.to, 'REPLICANT_BAD_RECEIPT');
      return;
    }
    this.#handToReplicants(entry, now);
  }

  /** A receipt signed by the recipient for exactly this envelope: delivered. False if it is not one. */
  #applyReceipt(entry: OutboxEntry, bytes: Uint8Array): boolean {
    const receipt = openStatement(this.#crypto, bytes, 'receipt');
    const valid =
      receipt.ok &&
      bytesEqual(receipt.value.signer, entry.header.recipient) &&
      bytesEqual(receipt.value.body.sender, this.messagingId) &&
      bytesEqual(receipt.value.body.id, entry.header.id) &&
      bytesEqual(receipt.value.body.digest, entry.digest);
    if (!valid) return false;
    if (entry.row.state === 'delivered') return true;
    this.#timers.clear(`out:${entry.key}`);
    this.#updateOutbox(entry, { ...entry.row, state: 'delivered', receipt: bytes });
    return true;
  }

  #expire(entry: OutboxEntry, now: Millis): void {
    this.#timers.clear(`out:${entry.key}`);
    this.#updateOutbox(entry, { ...entry.row, state: 'expired', at: this.wall(now) });
  }

  #updateOutbox(entry: OutboxEntry, row: OutboxRow, by?: MessagingId): void {
    const changed = row.state !== entry.row.state;
    const dropped = this.outbox.update(entry, row, this.limits.outboxFinishedMax);
    this.#persist('outbox', entry.key, encodeRow(row));
    for (const key of dropped) this.#persist('outbox', key, undefined);
    if (changed && !row.system) {
      this.#emit({
        type: 'outbox',
        key: entry.key,
        recipient: entry.header.recipient,
        state: row.state,
        ...(by ? { by } : {}),
      });
    }
  }

  #onReceipts(from: NodeId, rid: number, receipts: readonly Uint8Array[]): void {
    this.#applyReceipts(from, receipts);
    this.#reply(from, { t: 'ok', rid });
  }

  // ---- Holding (the replicant's side)

  #onHold(from: NodeId, rid: number, env: Uint8Array, now: Millis): void {
    const header = verifyEnvelope(this.#crypto, env, this.wall(now) as Millis);
    if (!header.ok)
      return this.#refuse(from, rid, header.error.code, header.error.code === 'ENVELOPE_BAD_SIGNATURE');
    const user = toHex(header.value.recipient);
    const key = envelopeDedupeKey(header.value);
    const admitted = this.holder.admit(key, header.value, env, user, this.wall(now));
    if (!admitted.ok) return this.#refuse(from, rid, admitted.error.code, false, admitted.error.retryMs);
    const digest = envelopeDigest(this.#crypto, env);
    if (this.holder.get(key) === undefined) {
      const { sender, id } = header.value;
      this.holder.add({ key, user, env, sender, id, digest, until: admitted.value });
      this.#persist('held', key, env);
      this.#timers.set(`held:${key}`, admitted.value - this.#wallOffset);
      this.#emit({ type: 'held', key, user: header.value.recipient, change: 'stored' });
    }
    const ack = signStatement(this.#crypto, this.#identity, 'stored', {
      recipient: header.value.recipient,
      sender: header.value.sender,
      id: header.value.id,
      digest,
      until: admitted.value,
    });
    this.#reply(from, { t: 'stored', rid, ack: ack.bytes });
    if (!this.#userAway.has(user)) this.#deliverHeld(user, now);
  }

  /** Sends a user what this node holds for it, a window at a time. */
  #deliverHeld(user: string, now: Millis): void {
    const contact = this.peers.get(user);
    if (contact?.reach == null) return;
    let inFlight = 0;
    for (const key of this.holder.keysFor(user)) {
      if (this.#inFlight(`held:${key}`)) inFlight++;
    }
    for (const key of this.holder.keysFor(user)) {
      if (inFlight >= this.limits.deliveryWindow) return;
      const held = this.holder.get(key);
      if (held === undefined || this.#inFlight(`held:${key}`)) continue;
      if (
        this.#request(contact.reach.node, { t: 'deliver', env: held.env }, { kind: 'held', key, user }, now)
      )
        inFlight++;
    }
  }

  #onHeldAnswer(pending: Extract<Pending, { kind: 'held' }>, message: ReplicantMessage, now: Millis): void {
    const held = this.holder.get(pending.key);
    if (held === undefined) return;
    if (message.t === 'refused') {
      if (message.code === 'ENVELOPE_EXPIRED') this.#dropHeld(held.key, 'expired');
      else
        this.#timers.setEarlier(
          `deliver:${pending.user}`,
          now + Math.max(message.retryMs, this.limits.retryMinMs),
        );
      return;
    }
    if (message.t !== 'receipt') return;
    const receipt = openStatement(this.#crypto, message.r, 'receipt');
    const valid =
      receipt.ok &&
      toHex(receipt.value.signer) === pending.user &&
      bytesEqual(receipt.value.body.sender, held.sender) &&
      bytesEqual(receipt.value.body.id, held.id) &&
      bytesEqual(receipt.value.body.digest, held.digest);
    if (!valid) return this.#misbehaved(pending.to, 'REPLICANT_BAD_RECEIPT');
    this.#dropHeld(held.key, 'delivered');
    this.#deliverHeld(pending.user, now);
  }

  #dropHeld(key: string, change: 'delivered' | 'expired'): void {
    const held = this.holder.remove(key);
    if (held === undefined) return;
    this.#timers.clear(`held:${key}`);
    this.#persist('held', key, undefined);
    this.#emit({ type: 'held', key, user: hexId(held.user), change });
  }

  // ---- Receiving (the recipient's side)

  #onDeliver(from: NodeId, rid: number, env: Uint8Array, now: Millis): void {
    const opened = open(this.#crypto, this.#identity, env, this.wall(now) as Millis);
    if (!opened.ok) {
      const code = opened.error.code;
      return this.#refuse(from, rid, code, code !== 'ENVELOPE_EXPIRED' && code !== 'ENVELOPE_FROM_FUTURE');
    }
    const envelope = opened.value;
    const key = envelopeDedupeKey(envelope);
    const digest = envelopeDigest(this.#crypto, env);
    const receipt = signStatement(this.#crypto, this.#identity, 'receipt', {
      sender: envelope.sender,
      id: envelope.id,
      digest,
      at: this.wall(now),
    });
    if (!this.inbox.hasSeen(key)) {
      if (this.inbox.messages.size >= this.limits.inboxMax || this.inbox.seenCount >= this.limits.seenMax) {
        return this.#refuse(from, rid, 'REPLICANT_INBOX_FULL', false, this.limits.retryMaxMs);
      }
      this.#accept(from, key, envelope, receipt.bytes, now);
    }
    this.#reply(from, { t: 'receipt', rid, r: receipt.bytes });
  }

  #accept(
    from: NodeId,
    key: string,
    envelope: { sender: MessagingId; id: Uint8Array; timestampMs: number; ttlMs: number; body: Uint8Array },
    receipt: Uint8Array,
    now: Millis,
  ): void {
    const body = decodeBody(envelope.body);
    const until = envelope.timestampMs + envelope.ttlMs;
    if (body.ok && body.value.kind === 'receipts')
      return this.#acceptReceipts(from, key, until, body.value.content);
    const content = body.ok ? body.value.content : envelope.body;
    const reply = body.ok ? body.value.reply : null;
    const sender = toHex(envelope.sender);
    const senderNode = this.peers.get(sender)?.reach?.node ?? reply?.node;
    const via = senderNode !== undefined && bytesEqual(senderNode, from) ? 'direct' : 'replicant';
    const row = {
      sender: envelope.sender,
      id: envelope.id,
      content,
      sentAt: envelope.timestampMs,
      receivedAt: this.wall(now),
      via,
    } as const;
    this.inbox.messages.set(key, row);
    this.inbox.markSeen(key, until);
    this.#persist('inbox', key, encodeRow(row));
    this.#persist('seen', key, encodeRow({ until }));
    this.#emit({ type: 'message', key, sender: envelope.sender, content, sentAt: envelope.timestampMs, via });
    // The sender also gets this same receipt on its own: through a replicant it has no other way to
    // learn of the delivery, and even a direct answer can be lost. A direct sender most likely has
    // it already, so that copy waits a little (and travels batched with others).
    if (reply !== null && !this.peers.has(sender)) this.#senderReach.set(sender, reply);
    this.#queueReceipt(key, sender, { r: receipt, sender: envelope.sender, until: until + RECEIPT_GRACE_MS });
    if (via === 'replicant') this.#flushReceipts(sender, now);
    else this.#timers.setEarlier(`receipts:${sender}`, now + this.limits.retryMinMs);
  }

  /** An envelope of receipts for this user's own messages: applied, remembered as seen, not shown. */
  #acceptReceipts(from: NodeId, key: string, until: number, content: Uint8Array): void {
    this.inbox.markSeen(key, until);
    this.#persist('seen', key, encodeRow({ until }));
    const receipts = decodeReceiptList(content);
    if (receipts === undefined) return this.#misbehaved(from, 'REPLICANT_BAD_RECEIPTS');
    this.#applyReceipts(from, receipts);
  }

  #applyReceipts(from: NodeId, receipts: readonly Uint8Array[]): void {
    for (const bytes of receipts) {
      const receipt = openStatement(this.#crypto, bytes, 'receipt');
      if (!receipt.ok) continue;
      const key = envelopeDedupeKey({ sender: this.messagingId, id: receipt.value.body.id });
      const entry = this.outbox.get(key);
      if (entry !== undefined && !this.#applyReceipt(entry, bytes))
        this.#misbehaved(from, 'REPLICANT_BAD_RECEIPT');
    }
  }

  /**
   * Receipts a sender did not take directly go to it the way messages do: sealed to it, through its
   * replicants if it is away. Only for contacts (their documents give the key to seal to).
   */
  #mailReceipts(sender: string, now: Millis): boolean {
    const contact = this.peers.get(sender);
    const batch = this.inbox.receiptsFor(sender).slice(0, this.limits.receiptsPerMessageMax);
    if (contact === undefined || replicantTickets(contact).length === 0 || batch.length === 0) return false;
    if (this.outbox.unfinished >= this.limits.outboxMax) return false;
    const content = encodeReceiptList(batch.map(([, row]) => row.r));
    const body = { kind: 'receipts', content, reply: null } as const;
    this.#enqueue(contact, body, { ttlMs: this.limits.heldTtlMsMax, isReplicated: true }, now, true);
    for (const [key] of batch) {
      this.inbox.removeReceipt(key, sender);
      this.#persist('receipt', key, undefined);
    }
    return true;
  }

  #queueReceipt(
    key: string,
    sender: string,
    row: { r: Uint8Array; sender: Uint8Array; until: number },
  ): void {
    while (this.inbox.receiptCount >= this.limits.pendingReceiptsMax) {
      const oldest = this.inbox.oldestReceipt();
      if (oldest === undefined) break;
      this.inbox.removeReceipt(oldest[0], toHex(oldest[1].sender));
      this.#persist('receipt', oldest[0], undefined);
      this.#emit({ type: 'receipt-dropped', key: oldest[0] });
    }
    this.inbox.addReceipt(key, row, sender);
    this.#persist('receipt', key, encodeRow(row));
  }

  #flushReceipts(sender: string, now: Millis): void {
    if (this.#inFlight(`receipts:${sender}`)) return;
    const reach = this.peers.get(sender)?.reach ?? this.#senderReach.get(sender);
    const batch = this.inbox.receiptsFor(sender).slice(0, this.limits.receiptsPerMessageMax);
    if (batch.length === 0) return;
    if (reach == null) return void this.#mailReceipts(sender, now);
    const keys = batch.map(([key]) => key);
    this.#request(
      reach.node,
      { t: 'receipts', rs: batch.map(([, row]) => row.r) },
      { kind: 'receipts', sender, keys },
      now,
    );
  }

  // ---- Nominations

  #role(user: MessagingId, replicant: MessagingId, role: Role, terms: Terms, now: Millis): Signed<'role'> {
    return signStatement(this.#crypto, this.#identity, 'role', {
      user,
      replicant,
      role,
      terms,
      at: this.wall(now),
    });
  }

  #ticket(user: MessagingId, now: Millis): Signed<'ticket'> {
    return signStatement(this.#crypto, this.#identity, 'ticket', {
      user,
      node: this.node,
      addrs: this.#addrs,
      at: this.wall(now),
    });
  }

  /** Sends this peer the nomination steps of ours it has not acknowledged yet. */
  #sendRole(contact: Contact, now: Millis): void {
    if (contact.reach === null) return;
    const nomination = this.nominations.get(contact.hex);
    const duty = this.holder.duties.get(contact.hex);
    if (nomination?.out && !this.#inFlight(`role:${contact.hex}:nomination`)) {
      this.#request(
        contact.reach.node,
        { t: 'role', s: nomination.out, ticket: null },
        { kind: 'role', peer: contact.hex, which: 'nomination', out: nomination.out },
        now,
      );
    }
    if (duty?.out && !this.#inFlight(`role:${contact.hex}:duty`)) {
      const ticket = duty.state === 'serving' ? duty.ticket : null;
      this.#request(
        contact.reach.node,
        { t: 'role', s: duty.out, ticket },
        { kind: 'role', peer: contact.hex, which: 'duty', out: duty.out },
        now,
      );
    }
  }

  #onRoleAnswer(pending: Extract<Pending, { kind: 'role' }>, message: ReplicantMessage): void {
    if (message.t !== 'ok') return;
    if (pending.which === 'nomination') {
      const row = this.nominations.get(pending.peer);
      if (row?.out && bytesEqual(row.out, pending.out))
        this.#saveNomination(pending.peer, { ...row, out: null });
    } else {
      const row = this.holder.duties.get(pending.peer);
      if (row?.out && bytesEqual(row.out, pending.out)) this.#saveDuty(pending.peer, { ...row, out: null });
    }
  }

  #onRole(from: NodeId, message: Extract<ReplicantMessage, { t: 'role' }>, now: Millis): void {
    const opened = openStatement(this.#crypto, message.s, 'role');
    if (!opened.ok) return this.#refuse(from, message.rid, 'REPLICANT_BAD_STATEMENT', true);
    const { body, signer } = opened.value;
    const fromUser = body.role === 'nominate' || body.role === 'revoke';
    const [author, addressee] = fromUser ? [body.user, body.replicant] : [body.replicant, body.user];
    if (!bytesEqual(signer, author) || !bytesEqual(addressee, this.messagingId)) {
      return this.#refuse(from, message.rid, 'REPLICANT_BAD_STATEMENT', true);
    }
    const contact = this.peers.get(toHex(signer));
    if (contact === undefined) return this.#refuse(from, message.rid, 'REPLICANT_NOT_A_CONTACT');
    const refusal = fromUser
      ? this.#onUserRole(contact, body, now)
      : this.#onReplicantRole(contact, body, message.ticket, now);
    if (refusal !== undefined) return this.#refuse(from, message.rid, refusal);
    this.#reply(from, { t: 'ok', rid: message.rid });
  }

  /** A user's nominate or revoke, at the nominee. Returns a refusal code, or undefined. */
  #onUserRole(contact: Contact, body: Signed<'role'>['body'], now: Millis): string | undefined {
    const duty = this.holder.duties.get(contact.hex);
    if (body.role === 'revoke') {
      if (duty !== undefined && duty.state !== 'ended' && duty.at <= body.at) {
        this.#saveDuty(contact.hex, { ...duty, state: 'ended', at: body.at, out: null, ticket: null });
        this.#emit({ type: 'duty-revoked', user: contact.id });
      }
      return undefined;
    }
    if (duty?.state === 'serving') {
      // Asked again (our acceptance was lost): send it again.
      this.#saveDuty(contact.hex, {
        ...duty,
        out: this.#role(contact.id, this.messagingId, 'accept', duty.terms, now).bytes,
      });
      return undefined;
    }
    if (duty?.state === 'requested' || (duty !== undefined && duty.at >= body.at)) return undefined;
    const requests = [...this.holder.duties.values()].filter((d) => d.state === 'requested').length;
    if (requests >= this.limits.nominationRequestsMax) return 'REPLICANT_TOO_MANY_REQUESTS';
    const serving = [...this.holder.duties.values()].filter((d) => d.state === 'serving').length;
    if (serving >= this.limits.dutiesMax) return 'REPLICANT_TOO_MANY_DUTIES';
    this.#saveDuty(contact.hex, {
      state: 'requested',
      terms: body.terms,
      at: body.at,
      out: null,
      ticket: null,
    });
    this.#emit({ type: 'nomination-request', user: contact.id, terms: body.terms });
    return undefined;
  }

  /** A nominee's accept or refuse, or a replicant's resignation, at the user. */
  #onReplicantRole(
    contact: Contact,
    body: Signed<'role'>['body'],
    ticketBytes: Uint8Array | null,
    now: Millis,
  ): string | undefined {
    const nomination = this.nominations.get(contact.hex);
    if (nomination === undefined) return 'REPLICANT_NOT_NOMINATED';
    if (body.role === 'accept') {
      if (nomination.state !== 'nominated' && nomination.state !== 'accepted') return undefined;
      const ticket = ticketBytes === null ? undefined : openStatement(this.#crypto, ticketBytes, 'ticket');
      if (
        !ticket?.ok ||
        !bytesEqual(ticket.value.signer, contact.id) ||
        !bytesEqual(ticket.value.body.user, this.messagingId)
      ) {
        return 'REPLICANT_BAD_TICKET';
      }
      const known =
        nomination.ticket === null ? undefined : openStatement(this.#crypto, nomination.ticket, 'ticket');
      if (nomination.state === 'accepted' && known?.ok && known.value.body.at >= ticket.value.body.at)
        return undefined;
      this.#saveNomination(contact.hex, {
        ...nomination,
        state: 'accepted',
        at: body.at,
        ticket: ticketBytes,
        out: null,
      });
    } else if (
      nomination.state === 'nominated' ||
      (body.role === 'resign' && nomination.state === 'accepted')
    ) {
      this.#saveNomination(contact.hex, {
        ...nomination,
        state: 'refused',
        at: body.at,
        ticket: null,
        out: null,
      });
    } else {
      return undefined;
    }
    this.#emit({
      type: 'nomination-answer',
      replicant: contact.id,
      answer: body.role as 'accept' | 'refuse' | 'resign',
    });
    this.#publishReplicants(now);
    return undefined;
  }

  /** The signed tickets of this user's accepted replicants (for presence and the directory). */
  acceptedTickets(): Uint8Array[] {
    const tickets: Uint8Array[] = [];
    for (const row of this.nominations.values())
      if (row.state === 'accepted' && row.ticket) tickets.push(row.ticket);
    return tickets;
  }

  /** After a change of replicants: a new document (seq + 1) if the list changed, then contacts are told. */
  #publishReplicants(now: Millis): void {
    const accepted = [...this.nominations]
      .filter(([, row]) => row.state === 'accepted')
      .map(([hex]) => hex)
      .sort();
    const current = this.#identity.document.replicants.map((id) => toHex(id));
    if (accepted.join() !== current.join()) {
      const replicants = accepted.map((hex) => hexId(hex));
      this.#identity = updateIdentity(this.#crypto, this.#identity, { replicants });
      this.#persist('self', 'doc', encodeIdentityRecord(this.#identity.document));
    }
    this.#emit({
      type: 'identity-changed',
      document: this.#identity.document,
      tickets: this.acceptedTickets(),
    });
    this.announce(now);
  }

  // ---- Plumbing

  #onAnswer(from: NodeId, message: ReplicantMessage, now: Millis): void {
    const pending = this.#pending.get(message.rid);
    if (pending === undefined || !bytesEqual(pending.to, from)) return; // late, or not ours: ignored
    this.#settle(message.rid, pending);
    switch (pending.kind) {
      case 'presence':
        return;
      case 'hold':
        return this.#onHoldAnswer(pending, message, now);
      case 'direct':
        return this.#onDirectAnswer(pending, message, now);
      case 'held':
        return this.#onHeldAnswer(pending, message, now);
      case 'receipts':
        if (message.t !== 'ok') return;
        for (const key of pending.keys) {
          this.inbox.removeReceipt(key, pending.sender);
          this.#persist('receipt', key, undefined);
        }
        return this.#flushReceipts(pending.sender, now);
      case 'role':
        return this.#onRoleAnswer(pending, message);
    }
  }

  #onTimer(name: string, now: Millis): void {
    const colon = name.indexOf(':');
    const kind = colon < 0 ? name : name.slice(0, colon);
    const rest = name.slice(colon + 1);
    switch (kind) {
      case 'rpc':
        return this.#onRpcTimeout(Number(rest), now);
      case 'out': {
        const entry = this.outbox.get(rest);
        return entry === undefined ? undefined : this.#attempt(entry, now);
      }
      case 'held': {
        const held = this.holder.get(rest);
        if (held !== undefined && held.until <= this.wall(now)) this.#dropHeld(rest, 'expired');
        return;
      }
      case 'deliver':
        this.#userAway.delete(rest);
        return this.#deliverHeld(rest, now);
      case 'receipts':
        return this.#flushReceipts(rest, now);
      case 'role': {
        const contact = this.peers.get(rest);
        return contact === undefined ? undefined : this.#sendRole(contact, now);
      }
      case 'sweep':
        return this.#sweep(now);
    }
  }

  #onRpcTimeout(rid: number, now: Millis): void {
    const pending = this.#pending.get(rid);
    if (pending === undefined) return;
    this.#settle(rid, pending);
    switch (pending.kind) {
      case 'presence':
        if (pending.tries < PRESENCE_TRIES - 1)
          this.#sendPresence(this.peers.get(pending.peer), pending.reply, now, pending.tries + 1);
        return;
      case 'hold':
        return; // the message's own retry timer tries again
      case 'direct': {
        const entry = this.outbox.get(pending.key);
        return entry === undefined ? undefined : this.#handToReplicants(entry, now);
      }
      case 'held':
        this.#userAway.add(pending.user);
        return this.#timers.setEarlier(`deliver:${pending.user}`, now + this.limits.retryMaxMs);
      case 'receipts':
        if (this.#mailReceipts(pending.sender, now)) return;
        return this.#timers.setEarlier(`receipts:${pending.sender}`, now + this.limits.retryMaxMs);
      case 'role':
        return this.#timers.setEarlier(`role:${pending.peer}`, now + this.limits.retryMaxMs);
    }
  }

  /** Hourly: forgets seen keys and receipts whose envelopes expired (they can never come back). */
  #sweep(now: Millis): void {
    const wall = this.wall(now);
    for (const key of this.inbox.expiredSeen(wall)) this.#persist('seen', key, undefined);
    for (const [key, row] of this.inbox.expiredReceipts(wall)) {
      this.inbox.removeReceipt(key, toHex(row.sender));
      this.#persist('receipt', key, undefined);
    }
    this.#timers.set('sweep', now + SWEEP_EVERY_MS);
  }

  /** Sends a request and remembers it; false (nothing sent) when too many are in flight. */
  #request(
    to: NodeId,
    message: DistributiveOmit<ReplicantMessage, 'rid'>,
    pending: DistributiveOmit<Pending, 'to' | 'deadline'>,
    now: Millis,
  ): boolean {
    if (this.#pending.size >= this.limits.rpcsInFlightMax) return false;
    let rid = this.#nextRid;
    while (this.#pending.has(rid)) rid = rid >= RID_MAX ? 1 : rid + 1;
    this.#nextRid = rid >= RID_MAX ? 1 : rid + 1;
    const deadline = now + this.limits.rpcTimeoutMs;
    const full = { ...pending, to, deadline } as Pending;
    this.#pending.set(rid, full);
    this.#inFlightKeys.add(inFlightKey(full));
    this.#timers.set(`rpc:${rid}`, deadline);
    this.#transmit(to, { ...message, rid });
    return true;
  }

  #settle(rid: number, pending: Pending): void {
    this.#pending.delete(rid);
    this.#inFlightKeys.delete(inFlightKey(pending));
    this.#timers.clear(`rpc:${rid}`);
  }

  #inFlight(key: string): boolean {
    return this.#inFlightKeys.has(key);
  }

  #reply(to: NodeId, message: ReplicantMessage): void {
    this.#transmit(to, message);
  }

  #refuse(to: NodeId, rid: number, code: string, misbehaved = false, retryMs = 0): void {
    if (misbehaved) this.#misbehaved(to, code);
    this.#transmit(to, { t: 'refused', rid, code, retryMs });
  }

  #transmit(to: NodeId, message: ReplicantMessage): void {
    this.#outputs.push({ type: 'transmit', to, bytes: encodeReplicantMessage(message) });
  }

  #backoff(tries: number): number {
    const base = Math.min(this.limits.retryMaxMs, this.limits.retryMinMs * 2 ** Math.min(tries - 1, 20));
    return Math.floor(base * (0.75 + this.#rng.float() / 2)); // jitter: senders do not retry in step
  }

  #requireContact(id: MessagingId): Contact {
    const contact = this.peers.get(toHex(id));
    if (contact === undefined)
      throw new UsageError('REPLICANT_NOT_A_CONTACT', 'this id is not one of your contacts');
    return contact;
  }

  #saveContact(contact: Contact): void {
    this.peers.set(contact.hex, contact);
    this.#persist(
      'contact',
      contact.hex,
      encodeRow({
        doc: encodeIdentityRecord(contact.document),
        name: contact.name,
        reach: contact.reach === null ? null : { node: contact.reach.node, addrs: [...contact.reach.addrs] },
        reachAt: contact.reachAt,
        tickets: contact.tickets.map((t) => t.bytes),
      }),
    );
  }

  #saveNomination(hex: string, row: NominationRow): void {
    this.nominations.set(hex, row);
    this.#persist('nomination', hex, encodeRow(row));
  }

  #saveDuty(hex: string, row: DutyRow): void {
    this.holder.duties.set(hex, row);
    this.#persist('duty', hex, encodeRow(row));
  }

  #persist(table: Table, key: string, value: Uint8Array | undefined): void {
    this.#emit({ type: 'persist', table, key, value });
  }

  #emit(event: ReplicantEvent): void {
    this.#outputs.push({ type: 'event', event });
  }

  #misbehaved(peer: NodeId, code: string): void {
    this.#emit({ type: 'peer-misbehaved', peer, code });
  }
}

/** A messaging id from one of this machine's own hex keys (always valid hex: a failure is a bug). */
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

function hexId(hex: string): MessagingId {
  return unwrap(fromHex(hex)) as MessagingId;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Presence is tried this many times per announcement; after that the contact's own presence brings it back. */
const PRESENCE_TRIES = 3;
const SWEEP_EVERY_MS = 3_600_000;
/** A receipt is kept this long past its envelope's expiry: a sender back a day late still learns "delivered". */
const RECEIPT_GRACE_MS = 24 * 3_600_000;

function inFlightKey(pending: Pending): string {
  switch (pending.kind) {
    case 'presence':
      return `presence:${pending.peer}:${pending.at}`;
    case 'hold':
      return `hold:${pending.key}:${pending.replicant}`;
    case 'direct':
      return `direct:${pending.key}`;
    case 'held':
      return `held:${pending.key}`;
    case 'receipts':
      return `receipts:${pending.sender}`;
    case 'role':
      return `role:${pending.peer}:${pending.which}`;
  }
}
