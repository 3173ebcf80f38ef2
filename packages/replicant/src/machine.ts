import {
  type MessagingId,
  type Millis,
  type NodeId,
  type Output,
  type Result,
  type Rng,
  bytesEqual,
  err,
  ok,
  toHex,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type Identity,
  type IdentityDocument,
  decodeIdentityRecord,
  encodeIdentityRecord,
  verifyIdentityDocument,
} from '@postern/identity';
import { ReplicantCore } from './core.ts';
import type { ReplicantEvent } from './events.ts';
import type { Holder } from './holder.ts';
import { Holding } from './holding.ts';
import type { Inbox } from './inbox.ts';
import { type ReplicantLimits, resolveReplicantLimits } from './limits.ts';
import { type ReplicantMessage, decodeReplicantMessage } from './messages.ts';
import type { Outbox } from './outbox.ts';
import type { Contact, Peers, Pending } from './peers.ts';
import { Receiving, SWEEP_EVERY_MS } from './receiving.ts';
import { DEFAULT_TERMS, Roles } from './roles.ts';
import { type SendOptions, Sending } from './sending.ts';
import { type NominationRow, type Row, decodeRow, encodeRow } from './state.ts';
import { type Reach, type Signed, type Terms, openStatement, signStatement } from './statements.ts';

export { DEFAULT_TERMS, type SendOptions };

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

type ContactError = {
  code: 'REPLICANT_BAD_DOCUMENT' | 'REPLICANT_CONTACTS_FULL' | 'REPLICANT_SELF';
  reason: string;
};

/** Presence is tried this many times per announcement; after that the contact's own presence brings it back. */
const PRESENCE_TRIES = 3;

/**
 * The Replicant protocol, sans-I/O (STYLE.md): contacts and their presence, and the four roles a
 * node plays — sender (sending.ts), replicant (holding.ts), recipient (receiving.ts), and both
 * sides of nominations (roles.ts) — over shared plumbing (core.ts). Every change is emitted as a
 * `persist` event before anything that depends on it is transmitted. Spec: docs/protocols/replicant.md.
 */
export class ReplicantMachine {
  readonly #core: ReplicantCore;
  readonly #sending: Sending;
  readonly #holding: Holding;
  readonly #receiving: Receiving;
  readonly #roles: Roles;
  #presence: Signed<'presence'> | undefined;
  #presenceAt = 0;

  constructor(options: ReplicantOptions) {
    const limits = resolveReplicantLimits(options.limits);
    this.#core = new ReplicantCore({ ...options, limits });
    this.#holding = new Holding(this.#core);
    this.#sending = new Sending(this.#core);
    this.#receiving = new Receiving(this.#core, this.#sending);
    this.#roles = new Roles(this.#core, this.#holding.holder, (now) => this.announce(now));
    if (options.rows) this.#restore(options.rows, options.now);
    this.#core.timers.set('sweep', options.now + SWEEP_EVERY_MS);
  }

  get limits(): ReplicantLimits {
    return this.#core.limits;
  }

  get node(): NodeId {
    return this.#core.node;
  }

  get peers(): Peers {
    return this.#core.peers;
  }

  get identity(): Identity {
    return this.#core.identity;
  }

  get messagingId(): MessagingId {
    return this.#core.messagingId;
  }

  get holder(): Holder {
    return this.#holding.holder;
  }

  get outbox(): Outbox {
    return this.#sending.outbox;
  }

  get inbox(): Inbox {
    return this.#receiving.inbox;
  }

  get nominations(): ReadonlyMap<string, NominationRow> {
    return this.#roles.nominations;
  }

  wall(now: Millis): number {
    return this.#core.wall(now);
  }

  /** The signed tickets of this user's accepted replicants (for presence and the directory). */
  acceptedTickets(): Uint8Array[] {
    return this.#roles.acceptedTickets();
  }

  // ---- Commands: reach and presence

  /** Where this node listens (its addresses go to contacts in presence and to users in tickets). */
  setAddresses(addrs: readonly string[], now: Millis): void {
    if (addrs.join() === this.#core.addrs.join()) return;
    this.#core.addrs = [...addrs];
    this.#presence = undefined;
    this.#roles.reissueTickets(addrs, now);
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
  ): Result<Contact, ContactError> {
    const verified = verifyIdentityDocument(this.#core.crypto, document);
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
    if (!verifyIdentityDocument(this.#core.crypto, document).ok) return;
    const opened = this.#openTickets(document, tickets);
    this.#saveContact({ ...contact, document, tickets: opened.length > 0 ? opened : contact.tickets });
  }

  removeContact(id: MessagingId): boolean {
    const hex = toHex(id);
    if (!this.peers.delete(hex)) return false;
    this.#core.persist('contact', hex, undefined);
    return true;
  }

  contact(id: MessagingId): Contact | undefined {
    return this.peers.get(toHex(id));
  }

  /** Every contact, by name. */
  contacts(): Contact[] {
    return [...this.peers.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The application has read a message: it leaves the inbox (its id is still recognised until it expires). */
  deleteMessage(key: string): boolean {
    return this.#receiving.deleteMessage(key);
  }

  /**
   * The relays this user's messages are written to (seed 003): a new document (seq + 1) listing
   * them, republished, and contacts told by presence. Addresses are checked by the caller.
   */
  setRelays(relays: readonly string[], now: Millis): IdentityDocument {
    const core = this.#core;
    if (relays.join('\n') === core.identity.document.relays.join('\n')) return core.identity.document;
    core.reviseIdentity({ relays });
    core.emit({
      type: 'identity-changed',
      document: core.identity.document,
      tickets: this.acceptedTickets(),
    });
    this.announce(now);
    return core.identity.document;
  }

  // ---- Relays (the node's relay mailbox carries the records)

  /** An envelope read from a relay: kept like any other (see Receiving.takeFromRelay). */
  takeFromRelay(
    relay: Uint8Array,
    env: Uint8Array,
    now: Millis,
  ): Result<{ key: string; receipt: Uint8Array }, { code: string }> {
    return this.#receiving.takeFromRelay(relay, env, now);
  }

  /** Could the inbox take one more message now (a relay's record left for later is read again only then)? */
  inboxHasRoom(): boolean {
    const { inbox, limits } = this;
    return (
      inbox.messages.size < limits.inboxMax &&
      inbox.bytes < limits.inboxBytesMax &&
      inbox.seenCount < limits.seenMax
    );
  }

  /** Has an envelope with this dedupe key (sender:id, hex) been received and not yet expired? */
  hasSeen(key: string): boolean {
    return this.#receiving.hasSeen(key);
  }

  /** A relay of this user stored the message: queued → stored. */
  storedOnRelay(key: string, relay: Uint8Array): void {
    this.#sending.storedOnRelay(key, relay);
  }

  /** Receipts that came another way (a relay acknowledgement): the messages they name are delivered. */
  applyReceipts(receipts: readonly Uint8Array[]): void {
    this.#sending.applyReceipts(undefined, receipts);
  }

  // ---- Commands: sending and nominations

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
    const body = { kind: 'message', content, reply: { node: this.node, addrs: this.#core.addrs } } as const;
    return ok(this.#sending.enqueue(contact, body, options, now, false).key);
  }

  /** Asks a contact to be a replicant of this user; it answers when its person decides. */
  nominate(id: MessagingId, now: Millis, terms: Terms = DEFAULT_TERMS): void {
    this.#roles.nominate(id, now, terms);
  }

  /** Ends a replicant's duty: it is taken off the identity record, and told. */
  revoke(id: MessagingId, now: Millis): void {
    this.#roles.revoke(id, now);
  }

  /** The nominee's answer to a nomination (its person's decision). */
  answerNomination(user: MessagingId, accept: boolean, now: Millis): void {
    this.#roles.answer(user, accept, now);
  }

  /** Stops holding new envelopes for a user; what is held is still delivered. */
  resign(user: MessagingId, now: Millis): void {
    this.#roles.resign(user, now);
  }

  // ---- Inputs

  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void {
    const decoded = decodeReplicantMessage(bytes);
    if (!decoded.ok) return this.#core.misbehaved(from, 'REPLICANT_MALFORMED');
    const message = decoded.value;
    switch (message.t) {
      case 'presence':
        return this.#onPresence(from, message, now);
      case 'hold':
        return this.#holding.onHold(from, message.rid, message.env, now);
      case 'deliver':
        return this.#receiving.onDeliver(from, message.rid, message.env, now);
      case 'receipts':
        this.#sending.applyReceipts(from, message.rs);
        return this.#core.reply(from, { t: 'ok', rid: message.rid });
      case 'role':
        return this.#roles.onRole(from, message, now);
      default:
        return this.#onAnswer(from, message, now);
    }
  }

  /** The runtime could not reach this node (a refused or failed dial): its requests fail now, not at their timeout. */
  peerUnreachable(node: NodeId, now: Millis): void {
    for (const [rid, pending] of [...this.#core.pending]) {
      if (bytesEqual(pending.to, node)) this.#onRpcTimeout(rid, now);
    }
  }

  handleTimeout(now: Millis): void {
    for (const name of this.#core.timers.due(now)) this.#onTimer(name, now);
  }

  pollOutput(): Output<ReplicantEvent> {
    return this.#core.poll();
  }

  /** Addresses this machine knows for a node (contacts' reach and replicant tickets). */
  addressesOf(node: NodeId): readonly string[] | undefined {
    const hex = toHex(node);
    for (const contact of this.peers.values()) {
      if (contact.reach !== null && toHex(contact.reach.node) === hex) return contact.reach.addrs;
      for (const ticket of contact.tickets) if (toHex(ticket.body.node) === hex) return ticket.body.addrs;
    }
    return this.#receiving.addressesOf(hex);
  }

  // ---- Presence

  #selfPresence(now: Millis): Signed<'presence'> {
    const core = this.#core;
    // Strictly increasing: contacts keep the newest presence, and two changes can share a millisecond.
    this.#presence ??= signStatement(core.crypto, core.identity, 'presence', {
      node: core.node,
      addrs: core.addrs,
      at: Math.max(core.wall(now), this.#presenceAt + 1),
      doc: encodeIdentityRecord(core.identity.document),
      tickets: this.#roles.acceptedTickets(),
    });
    this.#presenceAt = this.#presence.body.at;
    return this.#presence;
  }

  #sendPresence(contact: Contact | undefined, reply: boolean, now: Millis, tries = 0): void {
    const presence = this.#selfPresence(now);
    // One request per contact and presence: a newer presence (a changed document) goes out at once.
    if (contact?.reach == null || this.#core.inFlight(`presence:${contact.hex}:${presence.body.at}`)) return;
    const pending = { kind: 'presence', peer: contact.hex, at: presence.body.at, tries, reply } as const;
    this.#core.request(contact.reach.node, { t: 'presence', p: presence.bytes, reply }, pending, now);
  }

  #onPresence(from: NodeId, message: Extract<ReplicantMessage, { t: 'presence' }>, now: Millis): void {
    const core = this.#core;
    const opened = openStatement(core.crypto, message.p, 'presence');
    if (!opened.ok) return core.refuse(from, message.rid, 'REPLICANT_BAD_STATEMENT', true);
    const hex = toHex(opened.value.signer);
    const contact = this.peers.get(hex);
    if (contact === undefined) return core.refuse(from, message.rid, 'REPLICANT_NOT_A_CONTACT');
    const presence = opened.value.body;
    // The link's peer is the node the presence names: a replayed presence cannot redirect a contact.
    if (!bytesEqual(presence.node, from)) return core.refuse(from, message.rid, 'REPLICANT_WRONG_NODE');
    core.reply(from, { t: 'ok', rid: message.rid });
    if (presence.at > contact.reachAt) this.#saveContact(this.#fromPresence(contact, presence));
    if (!message.reply) this.#sendPresence(this.peers.get(hex), true, now);
    this.#contactOnline(hex, now);
  }

  #fromPresence(contact: Contact, presence: Signed<'presence'>['body']): Contact {
    const reach = { node: presence.node, addrs: presence.addrs };
    const updated = { ...contact, reach, reachAt: presence.at };
    const doc = decodeIdentityRecord(this.#core.crypto, presence.doc);
    const newer = doc.ok && bytesEqual(doc.value.pubkey, contact.id) && doc.value.seq >= contact.document.seq;
    if (!doc.ok || !newer) return updated;
    return { ...updated, document: doc.value, tickets: this.#openTickets(doc.value, presence.tickets) };
  }

  /** A contact is online: everything waiting for it moves. */
  #contactOnline(hex: string, now: Millis): void {
    const contact = this.peers.get(hex);
    if (contact === undefined) return;
    this.#core.emit({ type: 'contact-online', id: contact.id });
    this.#holding.userOnline(hex, now);
    this.#sending.recipientOnline(contact, now);
    this.#receiving.flushReceipts(hex, now);
    this.#roles.send(contact, now);
  }

  /** The tickets that hold: each signed by a replicant the document lists, for this user; newest per replicant. */
  #openTickets(document: IdentityDocument, tickets: readonly Uint8Array[]): Signed<'ticket'>[] {
    const listed = new Set(document.replicants.map((id) => toHex(id)));
    const byReplicant = new Map<string, Signed<'ticket'>>();
    for (const bytes of tickets) {
      const ticket = openStatement(this.#core.crypto, bytes, 'ticket');
      if (!ticket.ok || !bytesEqual(ticket.value.body.user, document.pubkey)) continue;
      const hex = toHex(ticket.value.signer);
      const held = byReplicant.get(hex);
      if (listed.has(hex) && (held === undefined || held.body.at < ticket.value.body.at))
        byReplicant.set(hex, ticket.value);
    }
    return [...byReplicant.values()];
  }

  #saveContact(contact: Contact): void {
    this.peers.set(contact.hex, contact);
    const reach =
      contact.reach === null ? null : { node: contact.reach.node, addrs: [...contact.reach.addrs] };
    const row = {
      doc: encodeIdentityRecord(contact.document),
      name: contact.name,
      reach,
      reachAt: contact.reachAt,
      tickets: contact.tickets.map((t) => t.bytes),
    };
    this.#core.persist('contact', contact.hex, encodeRow(row));
  }

  // ---- Answers and timers

  #onAnswer(from: NodeId, message: ReplicantMessage, now: Millis): void {
    const pending = this.#core.pending.get(message.rid);
    if (pending === undefined || !bytesEqual(pending.to, from)) return; // late, or not ours: ignored
    this.#core.settle(message.rid, pending);
    switch (pending.kind) {
      case 'presence':
        return;
      case 'hold':
        return this.#sending.onHoldAnswer(pending, message, now);
      case 'direct':
        return this.#sending.onDirectAnswer(pending, message, now);
      case 'held':
        return this.#holding.onHeldAnswer(pending, message, now);
      case 'receipts':
        return this.#receiving.onReceiptsAnswer(pending, message, now);
      case 'role':
        return this.#roles.onAnswer(pending, message);
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
        return entry === undefined ? undefined : this.#sending.attempt(entry, now);
      }
      case 'held':
        return this.#holding.onExpiryTimer(rest, now);
      case 'deliver':
        return this.#holding.userOnline(rest, now);
      case 'receipts':
        return this.#receiving.flushReceipts(rest, now);
      case 'presence':
        return this.#sendPresence(this.peers.get(rest), false, now);
      case 'role': {
        const contact = this.peers.get(rest);
        return contact === undefined ? undefined : this.#roles.send(contact, now);
      }
      case 'sweep':
        return this.#receiving.sweep(now);
    }
  }

  #onRpcTimeout(rid: number, now: Millis): void {
    const pending: Pending | undefined = this.#core.pending.get(rid);
    if (pending === undefined) return;
    this.#core.settle(rid, pending);
    switch (pending.kind) {
      case 'presence':
        if (pending.tries < PRESENCE_TRIES - 1)
          this.#sendPresence(this.peers.get(pending.peer), pending.reply, now, pending.tries + 1);
        return;
      case 'hold':
        return; // the message's own retry timer tries again
      case 'direct':
        return this.#sending.onDirectTimeout(pending, now);
      case 'held':
        return this.#holding.onHeldTimeout(pending, now);
      case 'receipts':
        return this.#receiving.onReceiptsTimeout(pending, now);
      case 'role':
        return this.#core.timers.setEarlier(`role:${pending.peer}`, now + this.limits.retryMaxMs);
    }
  }

  // ---- Restart

  /** Rebuilds the state an earlier incarnation persisted; unreadable rows are skipped with an event. */
  #restore(rows: Iterable<Row>, now: Millis): void {
    for (const row of rows) {
      const reason = this.#restoreRow(row, now);
      if (reason !== undefined)
        this.#core.emit({ type: 'state-corrupt', table: row.table, key: row.key, reason });
    }
    // Resume: what waits for someone is tried again (presence brings the rest).
    const timers = this.#core.timers;
    for (const user of this.holder.usersHolding()) timers.set(`deliver:${user}`, now);
    for (const sender of this.inbox.sendersWithReceipts()) timers.set(`receipts:${sender}`, now);
    for (const hex of [...this.nominations.keys(), ...this.holder.duties.keys()])
      timers.set(`role:${hex}`, now);
  }

  #restoreRow(row: Row, now: Millis): string | undefined {
    switch (row.table) {
      case 'self':
        return this.#restoreSelf(row.value);
      case 'contact':
        return this.#restoreContact(row.key, row.value);
      case 'held':
        return this.#holding.restore(row.key, row.value, now);
      case 'outbox':
        return this.#sending.restore(row.key, row.value, now);
      case 'nomination':
      case 'duty':
        return this.#roles.restore(row.table, row.key, row.value);
      case 'inbox':
      case 'seen':
      case 'receipt':
        return this.#receiving.restore(row.table, row.key, row.value);
    }
  }

  #restoreSelf(value: Uint8Array): string | undefined {
    const core = this.#core;
    const doc = decodeIdentityRecord(core.crypto, value);
    if (!doc.ok) return doc.error.code;
    if (!bytesEqual(doc.value.pubkey, this.messagingId)) return 'the document is another identity’s';
    if (doc.value.seq > core.identity.document.seq) core.identity = { ...core.identity, document: doc.value };
    return undefined;
  }

  #restoreContact(hex: string, value: Uint8Array): string | undefined {
    const read = decodeRow('contact', value);
    if (!read.ok) return read.error.code;
    const doc = decodeIdentityRecord(this.#core.crypto, read.value.doc);
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
}
