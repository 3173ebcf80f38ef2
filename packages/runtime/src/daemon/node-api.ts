import {
  IdPrefix,
  type Millis,
  type MessagingId,
  decodeIdText,
  encodeIdText,
  fromHex,
  fromUtf8,
  toHex,
  unwrap,
  utf8,
} from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import type { PosternNode } from '@postern/node';
import type { Contact, InboxRow } from '@postern/replicant';
import type { NodeRuntime } from '../node-runtime.ts';
import { formatContactCard, parseContactCard } from './contact-card.ts';

/**
 * The node's local API, as plain functions of a running NodeRuntime: what the postern command asks
 * (`postern contacts add`, `send`, `inbox`, …) and what it gets back, in JSON. Transport,
 * authentication and streaming are node-daemon.ts's; this file decides what each request means.
 * Errors are ApiRefusal: an HTTP status, a code for programs and one sentence with the fix.
 */
export class ApiRefusal extends Error {
  override name = 'ApiRefusal';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Body = Record<string, unknown>;

/** Messages sent from the command line live this long before they expire undelivered. */
export const SEND_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Inbox messages in one answer (a page of the listing). */
export const INBOX_PAGE_MAX = 500;
const NAME_CHARS_MAX = 64;
const LOOKUPS_KEPT = 64;
/** Characters a name must not hold: controls (terminal escapes), format and line separators. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const TEXT_BYTES_MAX = 60_000;

export class NodeApi {
  readonly #runtime: NodeRuntime;
  readonly #crypto: CryptoProvider;
  readonly #lookups = new Map<number, 'looking' | 'found' | 'not-found'>();

  constructor(runtime: NodeRuntime, crypto: CryptoProvider) {
    this.#runtime = runtime;
    this.#crypto = crypto;
  }

  /** Runs `apply` on the node as one input (its effects carried out after), and returns its value. */
  #run<T>(apply: (node: PosternNode, now: Millis) => T): T {
    let ran: { value: T } | undefined;
    this.#runtime.input((node, now) => {
      ran = { value: apply(node, now) };
    });
    if (ran === undefined) throw new ApiRefusal(503, 'NODE_STOPPED', 'the node is stopping');
    return ran.value;
  }

  id(): Json {
    const { identity } = this.#runtime;
    const document = identity.document;
    return {
      label: document.label,
      messagingId: encodeIdText(IdPrefix.messaging, document.pubkey),
      node: encodeIdText(IdPrefix.node, this.#runtime.nodeId),
      addresses: [...this.#runtime.addresses],
      listening: [...this.#runtime.host.addresses],
      seq: document.seq,
      relays: [...document.relays],
      replicants: document.replicants.map((r) => encodeIdText(IdPrefix.messaging, r)),
      card: this.card(),
    };
  }

  /** The contact card to give others: the identity document and how to reach this node. */
  card(): string {
    const addrs = this.#runtime.addresses;
    const reach = addrs.length === 0 ? undefined : { node: this.#runtime.nodeId, addrs };
    return formatContactCard(this.#runtime.identity.document, reach);
  }

  contacts(): Json {
    return this.#run((node) => node.messaging.contacts().map((c) => this.#contactJson(c)));
  }

  /** `{ card }` (a contact card or identity document, as text) or `{ id }` (looked up in the DHT). */
  addContact(body: Body): Json {
    const name = optionalText(body, 'name', 256);
    if (typeof body['card'] === 'string') {
      const card = parseContactCard(this.#crypto, body['card']);
      if (!card.ok)
        throw new ApiRefusal(400, card.error.code, `that is not a contact card: ${card.error.reason}`);
      const hex = toHex(card.value.document.pubkey);
      const known = this.#run((node) => node.messaging.peers.get(hex));
      // A new contact is called by its label unless named: either must pick it out alone.
      const chosen = name?.trim() ?? (known === undefined ? card.value.document.label : undefined);
      if (chosen !== undefined) this.#checkName(chosen, hex);
      const added = this.#run((node, now) =>
        node.messaging.addContact(card.value.document, now, {
          ...(chosen === undefined ? {} : { name: chosen }),
          ...(card.value.reach === undefined ? {} : { reach: card.value.reach }),
        }),
      );
      if (!added.ok)
        throw new ApiRefusal(400, added.error.code, `cannot add this contact: ${added.error.reason}`);
      return { added: this.#contactJson(added.value) };
    }
    if (name !== undefined)
      throw new ApiRefusal(
        400,
        'BAD_REQUEST',
        'name a contact found by id once it is found (/v1/contacts/rename)',
      );
    const id = this.#messagingId(requiredText(body, 'id', 100));
    const existing = this.#run((node) => node.messaging.contact(id));
    if (existing !== undefined) return { added: this.#contactJson(existing) };
    const lookup = this.#run((node, now) => node.addContactById(id, now) ?? -1);
    if (lookup < 0)
      throw new ApiRefusal(503, 'NODE_BUSY', 'the node has too many lookups running — try again in a minute');
    // A lookup with nobody to ask ends inside addContactById: its outcome is already here.
    if (!this.#lookups.has(lookup)) this.#setLookup(lookup, 'looking');
    return { lookingUp: encodeIdText(IdPrefix.messaging, id), lookup };
  }

  renameContact(body: Body): Json {
    const contact = this.#contact(requiredText(body, 'contact', 256));
    const name = requiredText(body, 'name', 256);
    this.#checkName(name, contact.hex);
    const renamed = this.#run((node, now) =>
      node.messaging.addContact(contact.document, now, { name: name.trim() }),
    );
    if (!renamed.ok) throw new ApiRefusal(400, renamed.error.code, renamed.error.reason);
    return { renamed: this.#contactJson(renamed.value) };
  }

  /**
   * A name people can type and read: not empty, printable, not a messaging id, not another
   * contact's (a name must pick out one contact).
   */
  #checkName(name: string, self: string | undefined): void {
    const trimmed = name.trim();
    const refuse = (why: string) => {
      throw new ApiRefusal(400, 'BAD_NAME', `${why} — choose another name`);
    };
    if (trimmed === '') refuse('a name cannot be empty');
    if ([...trimmed].length > NAME_CHARS_MAX) refuse(`a name is at most ${NAME_CHARS_MAX} characters`);
    if (UNPRINTABLE.test(trimmed)) refuse('a name cannot hold control or invisible characters');
    if (decodeIdText(IdPrefix.messaging, trimmed).ok) refuse('a name cannot be a messaging id');
    const taken = this.#run((node) => node.messaging.contacts()).find(
      (c) => c.hex !== self && c.name.toLowerCase() === trimmed.toLowerCase(),
    );
    if (taken !== undefined) refuse(`another contact is already named ${taken.name}`);
  }

  removeContact(body: Body): Json {
    const contact = this.#contact(requiredText(body, 'contact', 256));
    this.#run((node) => node.messaging.removeContact(contact.id));
    return { removed: this.#contactJson(contact) };
  }

  replicants(): Json {
    return this.#run((node) => {
      const m = node.messaging;
      const nameOf = (hex: string) => m.peers.get(hex)?.name ?? null;
      const idOf = (hex: string) => encodeIdText(IdPrefix.messaging, unwrap(fromHex(hex)));
      return {
        mine: [...m.nominations].map(([hex, row]) => ({
          name: nameOf(hex),
          id: idOf(hex),
          state: row.state,
        })),
        serving: [...m.holder.duties].map(([hex, row]) => ({
          name: nameOf(hex),
          id: idOf(hex),
          state: row.state,
          held: m.holder.usageOf(hex).envelopes,
        })),
      };
    });
  }

  /** `nominate`, `revoke` (this user's replicants), `accept`, `refuse` (requests to serve others). */
  replicantAction(action: 'nominate' | 'revoke' | 'accept' | 'refuse', body: Body): Json {
    const contact = this.#contact(requiredText(body, 'contact', 256));
    this.#run((node, now) => {
      const m = node.messaging;
      if (action === 'nominate') return m.nominate(contact.id, now);
      if (action === 'revoke') return this.#revoke(node, contact, now);
      if (m.holder.duties.get(contact.hex)?.state !== 'requested')
        throw new ApiRefusal(
          409,
          'NO_REQUEST',
          `${contact.name} has not asked you to be their replicant — see \`postern replicants requests\``,
        );
      return m.answerNomination(contact.id, action === 'accept', now);
    });
    return { [action]: this.#contactJson(contact) };
  }

  #revoke(node: PosternNode, contact: Contact, now: Millis): void {
    const state = node.messaging.nominations.get(contact.hex)?.state;
    if (state !== 'nominated' && state !== 'accepted')
      throw new ApiRefusal(
        409,
        'NOT_A_REPLICANT',
        `${contact.name} is not one of your replicants — see \`postern replicants list\``,
      );
    node.messaging.revoke(contact.id, now);
  }

  relays(): Json {
    return [...this.#runtime.identity.document.relays];
  }

  /** Adds or removes one relay address: a new identity document, republished. */
  changeRelays(change: 'add' | 'remove', body: Body): Json {
    const address = requiredText(body, 'address', 300).trim();
    const current = [...this.#runtime.identity.document.relays];
    if (change === 'remove' && !current.includes(address))
      throw new ApiRefusal(
        404,
        'NO_SUCH_RELAY',
        `${address} is not one of your relays — see \`postern relays list\``,
      );
    if (change === 'add' && current.includes(address))
      throw new ApiRefusal(409, 'ALREADY_A_RELAY', `${address} is already one of your relays`);
    const next = change === 'add' ? [...current, address] : current.filter((a) => a !== address);
    const set = this.#run((node, now) => node.setRelays(next, now));
    if (!set.ok) throw new ApiRefusal(400, set.error.code, `cannot use that relay: ${set.error.reason}`);
    return [...set.value.relays];
  }

  send(body: Body): Json {
    const contact = this.#contact(requiredText(body, 'to', 256));
    const text = requiredText(body, 'text', TEXT_BYTES_MAX);
    const sent = this.#run((node, now) =>
      node.send(contact.id, utf8(text), { ttlMs: SEND_TTL_MS, isReplicated: true }, now),
    );
    if (!sent.ok) {
      const full = sent.error.code === 'REPLICANT_OUTBOX_FULL';
      throw new ApiRefusal(
        full ? 503 : 400,
        sent.error.code,
        full
          ? 'the outbox is full — wait for messages to be delivered or to expire'
          : `${contact.name} is not a contact`,
      );
    }
    return { key: sent.value, to: contact.name, state: 'queued' };
  }

  outbox(key: string): Json {
    const entry = this.#run((node) => node.messaging.outbox.get(key));
    if (entry === undefined || entry.row.system)
      throw new ApiRefusal(
        404,
        'NO_SUCH_MESSAGE',
        `no sent message ${key} — it may have been delivered long ago`,
      );
    return { key, state: entry.row.state, replicants: entry.row.acks.length, at: entry.row.at };
  }

  /** Received messages, oldest first, from `offset`, at most `limit` (≤ INBOX_PAGE_MAX). */
  inbox(offset: number, limit: number): Json[] {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(limit) || limit < 1)
      throw new ApiRefusal(400, 'BAD_REQUEST', 'offset and limit must be whole numbers (limit ≥ 1)');
    return this.#oldestFirst()
      .slice(offset, offset + Math.min(limit, INBOX_PAGE_MAX))
      .map(([key, row]) => this.messageJson(key, row));
  }

  /** Every inbox key, oldest message first (the follow stream's snapshot). */
  inboxKeys(): string[] {
    return this.#oldestFirst().map(([key]) => key);
  }

  #oldestFirst(): [string, InboxRow][] {
    return this.#run((node) =>
      [...node.messaging.inbox.messages].sort(([, a], [, b]) => a.receivedAt - b.receivedAt),
    );
  }

  /** The message with this key, if it is still in the inbox. */
  inboxMessage(key: string): Json | undefined {
    const row = this.#runtime.node.messaging.inbox.messages.get(key);
    return row === undefined ? undefined : this.messageJson(key, row);
  }

  /**
   * The user has read a message: it leaves the inbox (and is still recognised if it comes again).
   * `key` may be the start of its id part (at least 8 characters) that no other message shares.
   */
  removeMessage(body: Body): Json {
    const ref = requiredText(body, 'key', 200);
    const keys = this.#run((node) => [...node.messaging.inbox.messages.keys()]);
    // A key is `sender:id`; people see the start of the id (the sender's part is the same for all
    // messages from one contact).
    const matches = keys.filter(
      (key) => key === ref || (ref.length >= 8 && (key.split(':')[1] ?? '').startsWith(ref)),
    );
    if (matches.length > 1)
      throw new ApiRefusal(
        409,
        'AMBIGUOUS_KEY',
        `${ref} starts ${matches.length} messages' keys — give more of it`,
      );
    const key = matches[0];
    if (key === undefined || !this.#run((node) => node.messaging.deleteMessage(key)))
      throw new ApiRefusal(404, 'NO_SUCH_MESSAGE', `no message ${ref} in the inbox — see \`postern inbox\``);
    return { removed: key };
  }

  /** A message as the API shows it; `receivedAt` from the inbox when the caller has none. */
  messageJson(
    key: string,
    row: Pick<InboxRow, 'sender' | 'content' | 'sentAt' | 'via'> & { receivedAt?: number },
  ): Json {
    const text = fromUtf8(row.content);
    const messaging = this.#runtime.node.messaging;
    return {
      key,
      from: messaging.contact(row.sender as MessagingId)?.name ?? null,
      fromId: encodeIdText(IdPrefix.messaging, row.sender),
      text: text.ok ? text.value : null,
      sentAt: row.sentAt,
      receivedAt: row.receivedAt ?? messaging.inbox.messages.get(key)?.receivedAt ?? null,
      via: row.via,
    };
  }

  /** Where a lookup by id stands: `looking`, `found` or `not-found` (the last 64 lookups are kept). */
  lookup(n: number): Json {
    const state = this.#lookups.get(n);
    if (state === undefined) throw new ApiRefusal(404, 'NO_SUCH_LOOKUP', `no lookup ${n}`);
    return { lookup: n, state };
  }

  /** The node's event: a lookup ended. */
  lookupEnded(n: number, found: boolean): void {
    this.#setLookup(n, found ? 'found' : 'not-found');
  }

  /** Records where a lookup stands, forgetting the oldest beyond LOOKUPS_KEPT. */
  #setLookup(n: number, state: 'looking' | 'found' | 'not-found'): void {
    this.#lookups.set(n, state);
    for (const old of this.#lookups.keys()) if (this.#lookups.size > LOOKUPS_KEPT) this.#lookups.delete(old);
  }

  status(): Json {
    return this.#run((node) => {
      const m = node.messaging;
      const duties = [...m.holder.duties.values()];
      return {
        messagingId: encodeIdText(IdPrefix.messaging, m.messagingId),
        node: encodeIdText(IdPrefix.node, node.node),
        addresses: [...this.#runtime.addresses],
        listening: [...this.#runtime.host.addresses],
        peers: this.#runtime.host.connectionCount,
        dht: { routingTable: node.kad.table.size, networkEstimate: node.kad.networkSizeEstimate() },
        contacts: m.peers.size,
        outbox: {
          pending: [...m.outbox.entries()].filter((e) => !e.row.system && !isDone(e.row.state)).length,
        },
        inbox: m.inbox.messages.size,
        replicants: [...m.nominations.values()].filter((n) => n.state === 'accepted').length,
        duties: {
          serving: duties.filter((d) => d.state === 'serving').length,
          requests: duties.filter((d) => d.state === 'requested').length,
          held: m.holder.heldCount,
        },
        relays: [...node.identity.document.relays],
      };
    });
  }

  #contactJson(contact: Contact): Json {
    const reach = contact.reach;
    return {
      name: contact.name,
      id: encodeIdText(IdPrefix.messaging, contact.id),
      online: reach !== null && this.#runtime.host.isConnected(reach.node),
      addresses: reach === null ? [] : [...reach.addrs],
      replicants: contact.document.replicants.length,
      relays: [...contact.document.relays],
    };
  }

  /** A contact by messaging id or by name (case-insensitive). */
  #contact(ref: string): Contact {
    const contacts = this.#run((node) => node.messaging.contacts());
    const id = decodeIdText(IdPrefix.messaging, ref);
    if (id.ok) {
      const found = contacts.find((c) => c.hex === toHex(id.value));
      if (found !== undefined) return found;
      throw new ApiRefusal(
        404,
        'NO_SUCH_CONTACT',
        `${ref} is not a contact — add it with \`postern contacts add\``,
      );
    }
    const named = contacts.filter((c) => c.name.toLowerCase() === ref.trim().toLowerCase());
    if (named.length === 1) return named[0] as Contact;
    if (named.length > 1)
      throw new ApiRefusal(
        409,
        'AMBIGUOUS_CONTACT',
        `${named.length} contacts are named ${ref} — use a messaging id`,
      );
    throw new ApiRefusal(404, 'NO_SUCH_CONTACT', `no contact named ${ref} — see \`postern contacts list\``);
  }

  #messagingId(text: string): MessagingId {
    const id = decodeIdText(IdPrefix.messaging, text);
    if (!id.ok)
      throw new ApiRefusal(
        400,
        id.error.code,
        `"${text.slice(0, 100)}" is not a messaging id (postern1…) or a contact card file`,
      );
    return id.value as MessagingId;
  }
}

function isDone(state: string): boolean {
  return state === 'delivered' || state === 'expired';
}

function requiredText(body: Body, field: string, maxBytes: number): string {
  const value = optionalText(body, field, maxBytes);
  if (value === undefined || value === '') throw new ApiRefusal(400, 'BAD_REQUEST', `"${field}" is missing`);
  return value;
}

function optionalText(body: Body, field: string, maxBytes: number): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ApiRefusal(400, 'BAD_REQUEST', `"${field}" must be text`);
  if (utf8(value).length > maxBytes)
    throw new ApiRefusal(400, 'BAD_REQUEST', `"${field}" is longer than ${maxBytes} bytes`);
  return value;
}
