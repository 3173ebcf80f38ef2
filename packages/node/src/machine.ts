import {
  BoundedLru,
  type MessagingId,
  type Millis,
  type NodeId,
  type Output,
  type Result,
  type Rng,
  UsageError,
  err,
  ok,
  toHex,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { type Identity, type IdentityDocument, IdentityLimits } from '@postern/identity';
import {
  type Contact as DhtContact,
  KADEMLIA_PROTOCOL,
  KademliaMachine,
  type KademliaEvent,
  type KademliaLimits,
  type QueryId,
  type SignedRecord,
  identityRecordKey,
  openIdentityRecord,
  signIdentityRecord,
} from '@postern/kademlia';
import {
  REPLICANT_PROTOCOL,
  type ReplicantEvent,
  type ReplicantLimits,
  ReplicantMachine,
  type Row,
  TABLES,
} from '@postern/replicant';
import { type RelayDecodeError, type RelayMessage, parseRelayAddress } from '@postern/relay';
import { decodeDhtContacts, decodePublishedAt, encodeDhtContacts, encodePublishedAt } from './dht-state.ts';
import type { RelayEvent } from './relay/core.ts';
import { RelayMailbox } from './relay/mailbox.ts';
import { DEFAULT_MAILBOX_LIMITS, type Limits as RelayMailboxLimits } from './relay/rows.ts';
import { openTicketsRecord, signTicketsRecord, ticketsRecordKey } from './directory.ts';

export type NodeEvent =
  | ReplicantEvent
  | RelayEvent
  /** The routing table's contacts, to bootstrap from after a restart (table 'dht', key 'contacts'). */
  | { type: 'persist'; table: 'dht'; key: string; value: Uint8Array | undefined }
  /** A directory lookup ended: the user's verified document and its replicants' tickets, or not found. */
  | {
      type: 'directory-found';
      lookup: number;
      id: MessagingId;
      document: IdentityDocument | undefined;
      tickets: readonly Uint8Array[];
    }
  /** The node started (at boot and after every restart). */
  | { type: 'online' }
  /** This user's identity (or tickets) record was stored on `stored` of the closest nodes. */
  | { type: 'published'; record: 'identity' | 'tickets'; seq: number; stored: number };

export type NodeTable = Row['table'] | 'dht' | 'relay';

/** Every table a node persists: the Replicant machine's, the DHT's and the relay mailbox's. */
export const NODE_TABLES: readonly NodeTable[] = [...TABLES, 'dht', 'relay'];

export interface NodeRow {
  readonly table: NodeTable;
  readonly key: string;
  readonly value: Uint8Array;
}

export interface PosternNodeOptions {
  readonly crypto: CryptoProvider;
  readonly identity: Identity;
  /** The node id: the hash of the transport static key (Kademlia id, where contacts reach this user). */
  readonly node: NodeId;
  readonly rng: Rng;
  readonly wallClockOffsetMs: number;
  readonly now: Millis;
  readonly kademlia?: Partial<KademliaLimits>;
  readonly replicant?: Partial<ReplicantLimits>;
  readonly relay?: Partial<RelayMailboxLimits>;
  /** What an earlier incarnation persisted. */
  readonly rows?: Iterable<NodeRow>;
}

/** Records this node publishes live a day; it republishes them twice as often. */
const RECORD_TTL_MS = 24 * 3_600_000;
const REPUBLISH_EVERY_MS = 12 * 3_600_000;
/** The routing table is saved this often, for a quick rejoin after a crash. */
const DHT_SNAPSHOT_EVERY_MS = 10 * 60_000;
/** A contact's directory records are looked up at most once per this interval when sending. */
const DIRECTORY_REFRESH_MS = 3_600_000;

interface Lookup {
  readonly id: MessagingId;
  document: IdentityDocument | undefined;
  tickets: Uint8Array[];
  waiting: number;
  /** Add the user as a contact once found. */
  readonly addContact: boolean;
}

/**
 * One Postern node, sans-I/O: the Kademlia directory (link protocol 2) and the Replicant protocol
 * (link protocol 3) composed into one machine. Transmits carry the protocol id in their first
 * byte; the runtime maps it to the link's protocol channel. It publishes the user's identity and
 * tickets records, looks contacts up in the directory, and persists its routing table.
 */
export class PosternNode {
  readonly kad: KademliaMachine;
  readonly messaging: ReplicantMachine;
  readonly relays: RelayMailbox;
  readonly #crypto: CryptoProvider;
  readonly #outputs: Output<NodeEvent>[] = [];
  readonly #lookups = new Map<QueryId, { lookup: number; part: 'identity' | 'tickets' }>();
  readonly #pendingLookups = new Map<number, Lookup>();
  readonly #refreshed: BoundedLru<string, number>;
  readonly #publishing = new Map<QueryId, { record: 'identity' | 'tickets'; seq: number }>();
  #bootstrapContacts: DhtContact[] = [];
  #nextLookup = 1;
  #kadAt: Millis | undefined;
  #messagingAt: Millis | undefined;
  #republishAt: number;
  #snapshotAt: number;
  #ticketsSeq = 0;
  /** Wall-clock time of the last publication (persisted: a restart does not republish needlessly). */
  #publishedAt = -Infinity;
  /** The `now` of the latest input: events handled while draining act at that time. */
  #lastNow: Millis;

  constructor(options: PosternNodeOptions) {
    this.#crypto = options.crypto;
    const rows = [...(options.rows ?? [])];
    this.kad = new KademliaMachine({
      self: options.node,
      crypto: options.crypto,
      rng: options.rng.fork('kad'),
      wallClockOffsetMs: options.wallClockOffsetMs,
      now: options.now,
      ...(options.kademlia ? { limits: options.kademlia } : {}),
    });
    this.messaging = new ReplicantMachine({
      crypto: options.crypto,
      identity: options.identity,
      node: options.node,
      rng: options.rng.fork('replicant'),
      wallClockOffsetMs: options.wallClockOffsetMs,
      now: options.now,
      ...(options.replicant ? { limits: options.replicant } : {}),
      rows: rows.filter((row): row is Row => row.table !== 'dht' && row.table !== 'relay'),
    });
    this.relays = new RelayMailbox({
      crypto: options.crypto,
      messaging: this.messaging,
      emit: (event) => this.#emit(event),
      limits: { ...DEFAULT_MAILBOX_LIMITS, ...options.relay },
      rows: rows.filter((row): row is NodeRow & { table: 'relay' } => row.table === 'relay'),
    });
    this.#refreshed = new BoundedLru(this.messaging.limits.contactsMax);
    const saved = rows.find((row) => row.table === 'dht' && row.key === 'contacts');
    if (saved !== undefined) this.#bootstrapContacts = decodeDhtContacts(saved.value);
    const published = rows.find((row) => row.table === 'dht' && row.key === 'published');
    if (published !== undefined) this.#publishedAt = decodePublishedAt(published.value);
    this.#republishAt = Infinity;
    this.#snapshotAt = options.now + DHT_SNAPSHOT_EVERY_MS;
    this.#lastNow = options.now;
  }

  get node(): NodeId {
    return this.kad.self;
  }

  get identity(): Identity {
    return this.messaging.identity;
  }

  /**
   * Goes online: joins the DHT through `seeds` and the contacts saved before a restart, tells
   * contacts this user is back, and publishes its records.
   */
  start(seeds: readonly DhtContact[], now: Millis): void {
    this.#lastNow = now;
    const known = new Set(seeds.map((c) => toHex(c.id)));
    const contacts = [...seeds, ...this.#bootstrapContacts.filter((c) => !known.has(toHex(c.id)))];
    if (contacts.length > 0) this.kad.bootstrap(contacts, now);
    this.messaging.announce(now);
    this.relays.start(now);
    // Once the join has found neighbours, unless the records were published recently.
    const due = this.#publishedAt + REPUBLISH_EVERY_MS - (this.messaging.wall(now) - now);
    this.#republishAt = Math.max(now + this.kad.limits.rpcTimeoutMs * 2, due);
    this.#emit({ type: 'online' });
  }

  /** A link to a node came up (its signed announcement gave its addresses). */
  peerConnected(contact: DhtContact, now: Millis): void {
    this.#lastNow = now;
    this.kad.peerConnected(contact, now);
  }

  setAddresses(addrs: readonly string[], now: Millis): void {
    this.#lastNow = now;
    this.messaging.setAddresses(addrs, now);
  }

  /** A dial to this node failed: requests waiting for it fail at once. */
  peerUnreachable(node: NodeId, now: Millis): void {
    this.#lastNow = now;
    this.messaging.peerUnreachable(node, now);
  }

  /** Where to dial a node: the DHT's knowledge first, then contacts' presence and tickets. */
  addressesOf(node: NodeId): readonly string[] | undefined {
    return this.kad.addressesOf(node) ?? this.messaging.addressesOf(node);
  }

  /**
   * The relays this user's messages are written to: each a relay address (`ws://host:port/#key` or
   * `tcp://host:port#key`), at most IdentityLimits.relaysMax. A new identity document lists them;
   * it is republished and contacts are told.
   */
  setRelays(
    addresses: readonly string[],
    now: Millis,
  ): Result<IdentityDocument, { code: 'NODE_BAD_RELAY'; reason: string }> {
    this.#lastNow = now;
    const unique = [...new Set(addresses)];
    if (unique.length > IdentityLimits.relaysMax) {
      return err({ code: 'NODE_BAD_RELAY', reason: `at most ${IdentityLimits.relaysMax} relays` });
    }
    for (const address of unique) {
      const parsed = parseRelayAddress(address);
      if (!parsed.ok) return err({ code: 'NODE_BAD_RELAY', reason: `${address}: ${parsed.error}` });
    }
    try {
      return ok(this.messaging.setRelays(unique, now));
    } catch (error) {
      // The document's own rules (each address at most 256 bytes, no spaces) refused it.
      if (error instanceof UsageError) return err({ code: 'NODE_BAD_RELAY', reason: error.message });
      throw error;
    }
  }

  /** The runtime's connection to a relay opened. */
  relayUp(address: string, now: Millis): void {
    this.#lastNow = now;
    this.relays.relayUp(address, now);
  }

  /** The runtime's connection to a relay failed or closed: it is dialled again later. */
  relayDown(address: string, now: Millis): void {
    this.#lastNow = now;
    this.relays.relayDown(address, now);
  }

  /** A message (or an undecodable one) from a relay's connection. */
  relayMessage(address: string, decoded: Result<RelayMessage, RelayDecodeError>, now: Millis): void {
    this.#lastNow = now;
    this.relays.relayMessage(address, decoded, now);
  }

  /** Looks a user up in the directory: its identity record and its tickets record. */
  lookup(id: MessagingId, now: Millis, options: { addContact?: boolean } = {}): number | undefined {
    this.#lastNow = now;
    if (this.kad.queryRoom < 2) return undefined; // the DHT is busy: the caller may try again
    const lookup = this.#nextLookup++;
    const addContact = options.addContact ?? false;
    this.#pendingLookups.set(lookup, { id, document: undefined, tickets: [], waiting: 2, addContact });
    const identity = this.kad.findValue(identityRecordKey(this.#crypto, id), now);
    const tickets = this.kad.findValue(ticketsRecordKey(this.#crypto, id), now);
    this.#lookups.set(identity, { lookup, part: 'identity' });
    this.#lookups.set(tickets, { lookup, part: 'tickets' });
    return lookup;
  }

  /**
   * Adds a contact by messaging id: its identity record is read from the directory, checked, and
   * added with its replicants' tickets; `directory-found` says whether it was found. Undefined when
   * the DHT runs as many queries as it allows.
   */
  addContactById(id: MessagingId, now: Millis): number | undefined {
    return this.lookup(id, now, { addContact: true });
  }

  /** Sends like ReplicantMachine.send; a contact whose replicants are unknown is looked up too. */
  send(...args: Parameters<ReplicantMachine['send']>): ReturnType<ReplicantMachine['send']> {
    const [to, , options, now] = args;
    this.#lastNow = now;
    const contact = this.messaging.contact(to);
    const hex = toHex(to);
    const last = this.#refreshed.get(hex) ?? -Infinity;
    if (
      options.isReplicated &&
      contact !== undefined &&
      contact.tickets.length === 0 &&
      now - last >= DIRECTORY_REFRESH_MS
    ) {
      if (this.lookup(to, now) !== undefined) this.#refreshed.set(hex, now);
    }
    return this.messaging.send(...args);
  }

  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void {
    this.#lastNow = now;
    const payload = bytes.subarray(1);
    if (bytes[0] === KADEMLIA_PROTOCOL) this.kad.handleReceive(from, payload, now);
    else if (bytes[0] === REPLICANT_PROTOCOL) this.messaging.handleReceive(from, payload, now);
    else this.#emit({ type: 'peer-misbehaved', peer: from, code: 'NODE_UNKNOWN_PROTOCOL' });
  }

  handleTimeout(now: Millis): void {
    this.#lastNow = now;
    this.kad.handleTimeout(now);
    this.messaging.handleTimeout(now);
    this.relays.handleTimeout(now);
    if (now >= this.#republishAt) this.#publish(now);
    if (now >= this.#snapshotAt) this.#snapshot(now);
  }

  pollOutput(): Output<NodeEvent> {
    if (this.#outputs.length === 0) this.#pump();
    const next = this.#outputs.shift();
    if (next !== undefined) return next;
    const relaysAt = this.relays.nextTimeout(this.#lastNow);
    const at = [this.#kadAt, this.#messagingAt, relaysAt, this.#republishAt, this.#snapshotAt].filter(
      (t): t is Millis => t !== undefined && Number.isFinite(t),
    );
    return { type: 'timeout', at: at.length === 0 ? undefined : (Math.min(...at) as Millis) };
  }

  /** Moves both machines' outputs into ours, acting on the events that concern the node itself. */
  #pump(): void {
    for (let round = 0; round < PUMP_ROUNDS_MAX; round++) {
      let moved = false;
      for (;;) {
        const out = this.kad.pollOutput();
        if (out.type === 'timeout') {
          this.#kadAt = out.at;
          break;
        }
        moved = true;
        if (out.type === 'transmit') this.#transmit(KADEMLIA_PROTOCOL, out.to, out.bytes);
        else this.#onKademlia(out.event, this.#lastNow);
      }
      for (;;) {
        const out = this.messaging.pollOutput();
        if (out.type === 'timeout') {
          this.#messagingAt = out.at;
          break;
        }
        moved = true;
        if (out.type === 'transmit') this.#transmit(REPLICANT_PROTOCOL, out.to, out.bytes);
        else this.#onMessaging(out.event, this.#lastNow);
      }
      if (!moved) return;
    }
  }

  #onKademlia(event: KademliaEvent, now: Millis): void {
    switch (event.type) {
      case 'value-found':
        return this.#onValue(event.query, event.record === undefined ? undefined : event.record, now);
      case 'stored': {
        const published = this.#publishing.get(event.query);
        if (published === undefined) return;
        this.#publishing.delete(event.query);
        return this.#emit({ type: 'published', ...published, stored: event.stored });
      }
      case 'peer-misbehaved':
        return this.#emit(event);
      case 'nodes-found':
        return;
    }
  }

  #onValue(query: QueryId, record: SignedRecord | undefined, now: Millis): void {
    const part = this.#lookups.get(query);
    if (part === undefined) return;
    this.#lookups.delete(query);
    const lookup = this.#pendingLookups.get(part.lookup);
    if (lookup === undefined) return;
    const context = { messagingId: lookup.id, nowMs: this.messaging.wall(now), limits: this.kad.limits };
    if (record !== undefined && part.part === 'identity') {
      const document = openIdentityRecord(this.#crypto, record, context);
      if (document.ok) lookup.document = document.value;
    } else if (record !== undefined) {
      const tickets = openTicketsRecord(this.#crypto, record, context);
      if (tickets.ok) lookup.tickets = tickets.value;
    }
    if (--lookup.waiting > 0) return;
    this.#pendingLookups.delete(part.lookup);
    if (lookup.document !== undefined && lookup.addContact && !this.messaging.contact(lookup.id)) {
      this.messaging.addContact(lookup.document, now);
    }
    if (lookup.document !== undefined) this.messaging.updateFromDirectory(lookup.document, lookup.tickets);
    this.#emit({
      type: 'directory-found',
      lookup: part.lookup,
      id: lookup.id,
      document: lookup.document,
      tickets: lookup.tickets,
    });
  }

  #onMessaging(event: ReplicantEvent, now: Millis): void {
    this.#emit(event);
    this.relays.onMessaging(event, now);
    if (event.type === 'identity-changed') this.#publish(now);
  }

  /** Stores this user's identity and tickets records on the closest nodes (at start, on change, twice a day). */
  #publish(now: Millis): void {
    this.#republishAt = now + REPUBLISH_EVERY_MS;
    if (this.kad.table.size === 0 || this.kad.queryRoom < 2) {
      // Alone, or the DHT is busy: try again a little later.
      this.#republishAt = now + this.kad.limits.rpcTimeoutMs * 4;
      return;
    }
    const identity = this.messaging.identity;
    const expiresAtMs = this.messaging.wall(now) + RECORD_TTL_MS;
    const record = signIdentityRecord(this.#crypto, identity, expiresAtMs, this.kad.limits);
    this.#publishing.set(this.kad.storeRecord(record, now), { record: 'identity', seq: record.seq });
    // The tickets record's seq only grows: the wall clock, or one more than last time if it went back.
    this.#ticketsSeq = Math.max(this.#ticketsSeq + 1, this.messaging.wall(now));
    const tickets = signTicketsRecord(
      this.#crypto,
      identity,
      this.messaging.acceptedTickets(),
      { seq: this.#ticketsSeq, expiresAtMs },
      this.kad.limits,
    );
    this.#publishing.set(this.kad.storeRecord(tickets, now), { record: 'tickets', seq: tickets.seq });
    this.#publishedAt = this.messaging.wall(now);
    this.#emit({
      type: 'persist',
      table: 'dht',
      key: 'published',
      value: encodePublishedAt(this.#publishedAt),
    });
  }

  #snapshot(now: Millis): void {
    this.#snapshotAt = now + DHT_SNAPSHOT_EVERY_MS;
    const contacts = this.kad.table.contacts().slice(0, DHT_SNAPSHOT_CONTACTS);
    if (contacts.length > 0)
      this.#emit({ type: 'persist', table: 'dht', key: 'contacts', value: encodeDhtContacts(contacts) });
  }

  #transmit(protocol: number, to: NodeId, payload: Uint8Array): void {
    const bytes = new Uint8Array(payload.length + 1);
    bytes[0] = protocol;
    bytes.set(payload, 1);
    this.#outputs.push({ type: 'transmit', to, bytes });
  }

  #emit(event: NodeEvent): void {
    this.#outputs.push({ type: 'event', event });
  }
}

/** A drain that keeps producing after this many rounds has a bug (each round is one machine's whole drain). */
const PUMP_ROUNDS_MAX = 1_000;
/** Contacts saved for the next bootstrap: enough that some are up after a day away. */
const DHT_SNAPSHOT_CONTACTS = 64;
