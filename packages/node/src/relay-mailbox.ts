import { type MessagingId, type Millis, type Result, bytesEqual, fromHex, toHex, utf8 } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { recipientKeys } from '@postern/identity';
import {
  ACK_TAG,
  type Ack,
  type AuditRow,
  type ClientEvent,
  type ClientFailure,
  type RelayDecodeError,
  type RelayMessage,
  type RelayRequest,
  RelayClientSession,
  type UsageEntry,
  type UsageReport,
  type WriteRequest,
  auditDeliveries,
  openAck,
  parsePath,
  parseRelayAddress,
  sealAck,
} from '@postern/relay';
import type { ReplicantEvent, ReplicantMachine } from '@postern/replicant';
import {
  type Limits,
  type MailboxRow,
  decodeAckRow,
  decodeWrittenRow,
  encodeAckRow,
  encodeWrittenRow,
} from './relay-rows.ts';

export { type Limits as RelayMailboxLimits, DEFAULT_MAILBOX_LIMITS } from './relay-rows.ts';

/** What the mailbox asks of the runtime, and tells the application. */
export type RelayEvent =
  /** Open a connection to this relay address; answer with `relayUp` or `relayDown`. */
  | { type: 'relay-connect'; relay: string }
  /** The relay is no longer needed: close its connection. */
  | { type: 'relay-disconnect'; relay: string }
  /** Send this signed request on the relay's connection. */
  | { type: 'relay-send'; relay: string; message: RelayMessage<RelayRequest> }
  /** A relay refused this user's request (no account, quota full, ...): one sentence for the person. */
  | { type: 'relay-refused'; relay: string; request: RelayRequest['type']; code: string; error: string }
  /** A relay answered what no honest relay answers; the answer was dropped. */
  | { type: 'relay-misbehaved'; relay: string; reason: string }
  /** The end of `audit`: per record, what this user's relays charged beside what was acknowledged. */
  | { type: 'relay-audit'; audit: number; rows: AuditRow[]; unreachable: string[] }
  | { type: 'persist'; table: 'relay'; key: string; value: Uint8Array | undefined };

/** Tag of a message record: a sealed envelope to the receiver. */
export const MESSAGE_TAG = 'msg';

type Request =
  | { kind: 'write'; key: string }
  | { kind: 'ack'; ack: QueuedAck }
  | { kind: 'read'; path: string; tries: number }
  | { kind: 'delete' }
  | { kind: 'listen' }
  | { kind: 'usage'; audit: number };

interface QueuedAck {
  readonly to: MessagingId;
  readonly write: Omit<WriteRequest, 'type'>;
  /** Wall-clock expiry of the acknowledgement. */
  readonly until: number;
}

interface Link {
  readonly address: string;
  readonly key: Uint8Array;
  readonly session: RelayClientSession;
  state: 'connecting' | 'up' | 'down';
  failures: number;
  /** When a link that is down is dialled again (monotonic). */
  retryAt: number;
  /** No writes before this (the relay said full, or that this user has no account). */
  writesAfter: number;
  readonly requests: Map<string, Request>;
  /** Pushed paths waiting for a read, oldest first. */
  readonly toRead: Map<string, number>;
  reads: number;
}

interface Audit {
  readonly id: number;
  readonly waiting: Set<string>;
  readonly usage: { relay: Uint8Array; entries: UsageEntry[] }[];
  readonly unreachable: string[];
}

export interface RelayMailboxOptions {
  readonly crypto: CryptoProvider;
  readonly messaging: ReplicantMachine;
  readonly emit: (event: RelayEvent | ReplicantEvent) => void;
  readonly limits: Limits;
  readonly rows: Iterable<MailboxRow>;
}

/**
 * The relay client inside a node (seed 003), sans-I/O: it writes this user's outgoing envelopes to
 * the user's own relays (recordId = envelope id), listens on its contacts' relays and reads what
 * they hold for it, hands each envelope to the Replicant machine's receive path (one inbox entry per
 * envelope id, whatever path brought it), writes an acknowledgement carrying its receipt to its own
 * relays, and deletes what it took. A sender's client reads those acknowledgements from its
 * contacts' relays (delivered, and the audit's evidence). One RelayClientSession per relay checks
 * every answer's signature. Spec: docs/protocols/relay.md ("Client in the node").
 */
export class RelayMailbox {
  readonly limits: Limits;
  readonly #crypto: CryptoProvider;
  readonly #m: ReplicantMachine;
  readonly #emit: (event: RelayEvent | ReplicantEvent) => void;
  readonly #links = new Map<string, Link>();
  /** Each contact's relay addresses, and how many contacts use each address. */
  readonly #contactRelays = new Map<string, readonly string[]>();
  readonly #users = new Map<string, number>();
  /** Outbox keys → relay keys (hex) that stored the message. */
  readonly #written = new Map<string, Set<string>>();
  /** Acknowledgements of this user's records, by `relayhex path`, oldest first. */
  readonly #acks = new Map<string, Ack>();
  /** Paths handled (`address path`), so a push that comes again is not read again. */
  readonly #handled = new Set<string>();
  readonly #ackQueue: QueuedAck[] = [];
  #audit: Audit | undefined;
  #nextAudit = 1;
  #syncAt: number | undefined;
  #started = false;

  constructor(options: RelayMailboxOptions) {
    this.limits = options.limits;
    this.#crypto = options.crypto;
    this.#m = options.messaging;
    this.#emit = options.emit;
    for (const row of options.rows) this.#restore(row);
  }

  /** Relay addresses this node connects to, and whether each is up. */
  links(): { address: string; state: Link['state']; own: boolean; listening: boolean }[] {
    const own = new Set(this.#own());
    return [...this.#links.values()].map((l) => ({
      address: l.address,
      state: l.state,
      own: own.has(l.address),
      listening: this.#users.has(l.address),
    }));
  }

  get acks(): readonly Ack[] {
    return [...this.#acks.values()];
  }

  /** At start (and restart): every contact's relays are read, and the wanted connections opened. */
  start(now: Millis): void {
    this.#started = true;
    for (const contact of this.#m.peers.values())
      this.#setContactRelays(contact.hex, contact.document.relays);
    this.#reconcile(now);
    this.#armSync(now);
  }

  /** What the Replicant machine did that concerns relays. */
  onMessaging(event: ReplicantEvent, now: Millis): void {
    if (event.type === 'persist' && event.table === 'contact') {
      const contact = this.#m.peers.get(event.key);
      const before = this.#contactRelays.get(event.key)?.join('\n') ?? '';
      this.#setContactRelays(event.key, contact?.document.relays ?? []);
      if ((contact?.document.relays.join('\n') ?? '') !== before) this.#reconcile(now);
    } else if (event.type === 'identity-changed') {
      this.#reconcile(now);
      this.#armSync(now);
    } else if (event.type === 'outbox') {
      this.#onOutbox(event.key, event.state, now);
    }
  }

  relayUp(address: string, now: Millis): void {
    const link = this.#links.get(address);
    if (link === undefined || link.state === 'up') return;
    link.state = 'up';
    link.failures = 0;
    if (this.#users.has(address))
      this.#request(link, { type: 'listen', afterTs: 0 }, { kind: 'listen' }, now);
    if (this.#own().includes(address)) {
      this.#writeAll(link, now);
      this.#flushAcks(now);
    }
  }

  relayDown(address: string, now: Millis): void {
    const link = this.#links.get(address);
    if (link === undefined) return;
    this.#dispatch(link, link.session.handleClosed(), now);
    link.state = 'down';
    link.toRead.clear();
    link.reads = 0;
    link.failures++;
    const backoff = Math.min(
      this.limits.reconnectMaxMs,
      this.limits.reconnectMinMs * 2 ** (link.failures - 1),
    );
    link.retryAt = now + backoff;
  }

  /** One message from a relay's connection. */
  relayMessage(address: string, decoded: Result<RelayMessage, RelayDecodeError>, now: Millis): void {
    const link = this.#links.get(address);
    if (link === undefined) return;
    if (!decoded.ok)
      return this.#misbehaved(link, `an undecodable message: ${JSON.stringify(decoded.error.error)}`);
    const event = link.session.handleMessage(decoded.value, this.#m.wall(now));
    if (event !== undefined) this.#dispatch(link, [event], now);
  }

  /**
   * Asks each of this user's relays that is up for its usage report; a `relay-audit` event sets
   * them beside the acknowledgements received. Undefined while an audit runs.
   */
  audit(now: Millis): number | undefined {
    if (this.#audit !== undefined) return undefined;
    const audit: Audit = { id: this.#nextAudit++, waiting: new Set(), usage: [], unreachable: [] };
    this.#audit = audit;
    const wall = this.#m.wall(now);
    for (const address of this.#own()) {
      const link = this.#links.get(address);
      if (link?.state !== 'up') {
        audit.unreachable.push(address);
        continue;
      }
      const window = { afterTs: Math.max(0, wall - link.session.limits.usageRetentionMs), beforeTs: wall };
      if (
        !this.#request(link, { type: 'RequestUsage', ...window }, { kind: 'usage', audit: audit.id }, now)
      ) {
        audit.unreachable.push(address);
        continue;
      }
      audit.usage.push({ relay: link.key, entries: [] });
      audit.waiting.add(address);
    }
    this.#finishAudit(audit);
    return audit.id;
  }

  handleTimeout(now: Millis): void {
    const wall = this.#m.wall(now);
    for (const link of this.#links.values()) {
      this.#dispatch(link, link.session.handleTimeout(wall), now);
      if (link.state === 'down' && link.retryAt <= now) this.#connect(link);
    }
    if (this.#syncAt !== undefined && now >= this.#syncAt) {
      this.#syncAt = undefined;
      for (const address of this.#own()) {
        const link = this.#links.get(address);
        if (link?.state === 'up') this.#writeAll(link, now);
      }
      this.#armSync(now);
    }
  }

  nextTimeout(now: Millis): number | undefined {
    const offset = this.#m.wall(now) - now;
    let at = this.#syncAt;
    for (const link of this.#links.values()) {
      const t = link.state === 'down' ? link.retryAt : (link.session.nextTimeout() ?? Infinity) - offset;
      if (at === undefined || t < at) at = t;
    }
    return at === undefined || !Number.isFinite(at) ? undefined : at;
  }

  // ---- Which relays

  /** This user's relays, as its identity document lists them. */
  #own(): string[] {
    return this.#m.identity.document.relays.filter((a) => parseRelayAddress(a).ok);
  }

  #setContactRelays(hex: string, relays: readonly string[]): void {
    for (const address of this.#contactRelays.get(hex) ?? []) {
      const n = (this.#users.get(address) ?? 0) - 1;
      if (n <= 0) this.#users.delete(address);
      else this.#users.set(address, n);
    }
    const valid = [...new Set(relays)].filter((a) => parseRelayAddress(a).ok);
    if (valid.length === 0) this.#contactRelays.delete(hex);
    else this.#contactRelays.set(hex, valid);
    for (const address of valid) this.#users.set(address, (this.#users.get(address) ?? 0) + 1);
  }

  /** Opens the connections wanted (own relays first, then the relays most contacts use), closes the rest. */
  #reconcile(now: Millis): void {
    if (!this.#started) return; // nothing goes out before the node is started
    const own = this.#own();
    const theirs = [...this.#users].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([a]) => a);
    const wanted = [...new Set([...own, ...theirs])].slice(0, this.limits.connectionsMax);
    const keep = new Set(wanted);
    for (const [address, link] of this.#links) {
      if (keep.has(address)) continue;
      this.#dispatch(link, link.session.handleClosed(), now);
      this.#links.delete(address);
      this.#emit({ type: 'relay-disconnect', relay: address });
    }
    for (const address of wanted) {
      const existing = this.#links.get(address);
      if (existing === undefined) this.#open(address);
      else if (existing.state === 'up' && this.#users.has(address) && !this.#listening(existing))
        this.#request(existing, { type: 'listen', afterTs: 0 }, { kind: 'listen' }, now);
    }
  }

  #listening(link: Link): boolean {
    return [...link.requests.values()].some((r) => r.kind === 'listen') || link.session.listening;
  }

  #open(address: string): void {
    const parsed = parseRelayAddress(address);
    if (!parsed.ok) return;
    const identity = this.#m.identity;
    const session = new RelayClientSession({
      crypto: this.#crypto,
      key: { publicKey: identity.messagingId, secretKey: identity.signingKey.expose() },
      relayKey: parsed.value.key,
      pendingMax: this.limits.requestsPerRelayMax,
      requestTimeoutMs: this.limits.requestTimeoutMs,
    });
    const link: Link = {
      address,
      key: parsed.value.key,
      session,
      state: 'down',
      failures: 0,
      retryAt: 0,
      writesAfter: 0,
      requests: new Map(),
      toRead: new Map(),
      reads: 0,
    };
    this.#links.set(address, link);
    this.#connect(link);
  }

  #connect(link: Link): void {
    link.state = 'connecting';
    this.#emit({ type: 'relay-connect', relay: link.address });
  }

  // ---- Requests and answers

  #request(link: Link, body: RelayRequest, request: Request, now: Millis, to?: Uint8Array): boolean {
    if (link.state !== 'up') return false;
    const made = link.session.request(body, this.#m.wall(now), to);
    if (!made.ok) return false;
    link.requests.set(made.value.id, request);
    this.#emit({ type: 'relay-send', relay: link.address, message: made.value.message });
    return true;
  }

  #dispatch(link: Link, events: readonly ClientEvent[], now: Millis): void {
    for (const event of events) {
      switch (event.type) {
        case 'records':
          for (const path of event.paths) this.#onPushed(link, path, now);
          this.#readMore(link, now);
          break;
        case 'listen-ended':
          // Another connection of this key (a device of this user) listens there now: it reads.
          break;
        case 'relay-misbehaved':
          this.#misbehaved(link, event.reason);
          break;
        case 'answer': {
          const request = link.requests.get(event.id);
          link.requests.delete(event.id);
          if (request !== undefined) this.#onAnswer(link, request, event.result, now);
        }
      }
    }
  }

  #onAnswer(link: Link, request: Request, result: Result<unknown, ClientFailure>, now: Millis): void {
    switch (request.kind) {
      case 'write':
        return this.#onWritten(link, request.key, result, now);
      case 'ack':
        // Taken: written before (an acknowledgement read twice), nothing to do.
        if (result.ok || result.error.code === 'RELAY_RECORD_ID_TAKEN') return;
        if (transient(result.error)) return this.#queueAck(request.ack);
        return this.#refused(link, 'write', result.error);
      case 'read':
        link.reads--;
        this.#onRead(link, request, result, now);
        return this.#readMore(link, now);
      case 'usage':
        return this.#onUsage(link, request.audit, result, now);
      case 'listen':
        if (!result.ok) this.#refused(link, 'listen', result.error);
        return;
      case 'delete':
        return;
    }
  }

  #misbehaved(link: Link, reason: string): void {
    this.#emit({ type: 'relay-misbehaved', relay: link.address, reason });
  }

  #refused(link: Link, request: RelayRequest['type'], failure: ClientFailure): void {
    const error = 'error' in failure ? failure.error : 'no answer';
    this.#emit({ type: 'relay-refused', relay: link.address, request, code: failure.code, error });
  }

  // ---- Writing this user's messages to its own relays

  #onOutbox(key: string, state: string, now: Millis): void {
    if (state === 'queued') {
      for (const address of this.#own()) {
        const link = this.#links.get(address);
        if (link?.state === 'up') this.#write(link, key, now);
      }
      this.#armSync(now);
    } else if (state === 'delivered' || state === 'expired') {
      this.#forget(key, now);
    }
  }

  /** Every unfinished message this relay does not hold yet (as the policy allows). */
  #writeAll(link: Link, now: Millis): void {
    for (const entry of this.#m.outbox.entries()) {
      if (link.session.pending >= this.limits.requestsPerRelayMax / 2) return; // the next sync goes on
      this.#write(link, entry.key, now);
    }
  }

  #write(link: Link, key: string, now: Millis): void {
    const entry = this.#m.outbox.get(key);
    if (entry === undefined || entry.row.system || entry.row.state === 'delivered') return;
    if (entry.row.state === 'expired' || link.writesAfter > now) return;
    if (this.#written.get(key)?.has(toHex(link.key))) return;
    const wall = this.#m.wall(now);
    if (this.limits.policy === 'fallback' && wall - entry.row.at < this.limits.fallbackAfterMs) return;
    if (this.limits.policy === 'fallback' && entry.row.state !== 'queued') return;
    const ttl = Math.min(entry.header.timestampMs + entry.header.ttlMs - wall, link.session.limits.ttlMsMax);
    if (ttl <= 0) return;
    for (const r of link.requests.values()) if (r.kind === 'write' && r.key === key) return;
    const write = { recordId: entry.header.id, ttl, tag: MESSAGE_TAG, content: entry.row.env };
    this.#request(link, { type: 'write', ...write }, { kind: 'write', key }, now, entry.header.recipient);
  }

  #onWritten(link: Link, key: string, result: Result<unknown, ClientFailure>, now: Millis): void {
    if (!result.ok) {
      if (transient(result.error)) return; // the next sync writes it again
      // Full, or no account: this relay takes nothing for a while; the person is told why.
      link.writesAfter = now + this.limits.refusedBackoffMs;
      return this.#refused(link, 'write', result.error);
    }
    const entry = this.#m.outbox.get(key);
    if (entry === undefined) return;
    const relays = this.#written.get(key) ?? new Set<string>();
    relays.add(toHex(link.key));
    this.#written.set(key, relays);
    this.#emit({ type: 'persist', table: 'relay', key: `out:${key}`, value: encodeWrittenRow(relays) });
    this.#m.storedOnRelay(key, link.key);
  }

  /** A message delivered or expired: its records are deleted where the relay is up (else its TTL ends them). */
  #forget(key: string, now: Millis): void {
    const relays = this.#written.get(key);
    if (relays === undefined) return;
    this.#written.delete(key);
    this.#emit({ type: 'persist', table: 'relay', key: `out:${key}`, value: undefined });
    const recordId = fromHex(key.slice(key.indexOf(':') + 1));
    if (!recordId.ok) return;
    for (const link of this.#links.values()) {
      if (relays.has(toHex(link.key)))
        this.#request(link, { type: 'delete', recordId: recordId.value }, { kind: 'delete' }, now);
    }
  }

  /** Writes are retried while unfinished messages wait (and, with the fallback policy, once they are due). */
  #armSync(now: Millis): void {
    if (this.#syncAt !== undefined || this.#own().length === 0 || this.#m.outbox.unfinished === 0) return;
    this.#syncAt = now + this.limits.syncEveryMs;
  }

  // ---- Reading what contacts' relays hold for this user

  #onPushed(link: Link, path: string, now: Millis): void {
    const parsed = parsePath(path);
    if (!parsed.ok || !bytesEqual(parsed.value.receiver, this.#m.messagingId)) {
      return this.#misbehaved(link, `pushed a path that is not this user's: ${path.slice(0, 140)}`);
    }
    const sender = toHex(parsed.value.sender);
    // Only contacts' records are read (and charged): a stranger's are left to expire.
    if (!this.#m.peers.has(sender) || this.#handled.has(`${link.address} ${path}`)) return;
    if (this.#m.hasSeen(`${sender}:${toHex(parsed.value.recordId)}`)) {
      // Came another way already: not read again, only removed.
      this.#done(link, path);
      return this.#delete(link, parsed.value.recordId, now);
    }
    if (link.toRead.size < this.limits.readQueueMax) link.toRead.set(path, 0);
  }

  #readMore(link: Link, now: Millis): void {
    for (const [path, tries] of link.toRead) {
      if (link.reads >= this.limits.readsInFlightMax) return;
      link.toRead.delete(path);
      if (this.#request(link, { type: 'read', path }, { kind: 'read', path, tries }, now)) link.reads++;
    }
  }

  #onRead(
    link: Link,
    request: Extract<Request, { kind: 'read' }>,
    result: Result<unknown, ClientFailure>,
    now: Millis,
  ): void {
    const { path } = request;
    if (!result.ok) {
      if (transient(result.error) && request.tries < this.limits.readTriesMax && link.state === 'up')
        link.toRead.set(path, request.tries + 1);
      else this.#done(link, path);
      return;
    }
    const record = result.value as RelayMessage<WriteRequest> | null;
    if (record === null) return this.#done(link, path); // gone: expired, or deleted by its sender
    if (record.request.tag === ACK_TAG) return this.#onAckRecord(link, path, record, now);
    const taken = this.#m.takeFromRelay(link.key, record.request.content, now);
    if (!taken.ok && FULL.has(taken.error.code)) return; // left there: read again at the next listen
    this.#done(link, path);
    this.#delete(link, record.request.recordId, now);
    if (taken.ok) this.#acknowledge(link, path, record.from, taken.value.receipt, now);
  }

  /** An acknowledgement of one of this user's records, from the contact that took it. */
  #onAckRecord(link: Link, path: string, record: RelayMessage<WriteRequest>, now: Millis): void {
    this.#done(link, path);
    this.#delete(link, record.request.recordId, now);
    const ack = openAck(this.#crypto, this.#m.identity, record.request.content, this.#m.wall(now) as Millis);
    if (!ack.ok || !bytesEqual(ack.value.receiver, record.from)) {
      const code = ack.ok ? 'RELAY_ACK_MISMATCH' : ack.error.code;
      return this.#emit({ type: 'sender-misbehaved', sender: record.from as MessagingId, code });
    }
    const { receiver: _receiver, ...kept } = ack.value;
    const key = `${toHex(kept.relay)} ${kept.path}`;
    this.#acks.delete(key);
    this.#acks.set(key, kept);
    this.#emit({ type: 'persist', table: 'relay', key: `ack:${key}`, value: encodeAckRow(kept) });
    for (const old of this.#acks.keys()) {
      if (this.#acks.size <= this.limits.acksKeptMax) break;
      this.#acks.delete(old);
      this.#emit({ type: 'persist', table: 'relay', key: `ack:${old}`, value: undefined });
    }
    if (kept.receipt !== null) this.#m.applyReceipts([kept.receipt]);
  }

  #done(link: Link, path: string): void {
    const key = `${link.address} ${path}`;
    this.#handled.delete(key);
    this.#handled.add(key);
    for (const old of this.#handled) {
      if (this.#handled.size <= this.limits.handledPathsMax) break;
      this.#handled.delete(old);
    }
  }

  #delete(link: Link, recordId: Uint8Array, now: Millis): void {
    this.#request(link, { type: 'delete', recordId }, { kind: 'delete' }, now);
  }

  /** Seed 003: the receiver places an acknowledgement on its own relays, sealed to the sender. */
  #acknowledge(link: Link, path: string, sender: Uint8Array, receipt: Uint8Array, now: Millis): void {
    const contact = this.#m.contact(sender as MessagingId);
    if (contact === undefined || this.#own().length === 0) return;
    const wall = this.#m.wall(now);
    const ack = { relay: link.key, path, at: wall, receipt };
    const options = { ttlMs: this.limits.ackTtlMs, now: wall as Millis };
    const content = sealAck(this.#crypto, this.#m.identity, recipientKeys(contact.document), ack, options);
    const recordId = this.#crypto.blake2b(utf8(`postern/relay-ack\n${toHex(link.key)} ${path}`), 16);
    this.#queueAck({
      to: contact.id,
      write: { recordId, ttl: this.limits.ackTtlMs, tag: ACK_TAG, content },
      until: wall + this.limits.ackTtlMs,
    });
    this.#flushAcks(now);
  }

  #queueAck(ack: QueuedAck): void {
    this.#ackQueue.push(ack);
    if (this.#ackQueue.length > this.limits.ackQueueMax) this.#ackQueue.shift();
  }

  /** Queued acknowledgements go to every own relay that is up, as the user's messages do. */
  #flushAcks(now: Millis): void {
    const up = this.#own()
      .map((a) => this.#links.get(a))
      .filter((l): l is Link => l?.state === 'up');
    if (up.length === 0) return;
    const wall = this.#m.wall(now);
    for (const ack of this.#ackQueue.splice(0)) {
      const ttl = ack.until - wall;
      if (ttl <= 0) continue;
      for (const link of up) {
        const write = { ...ack.write, ttl };
        this.#request(link, { type: 'write', ...write }, { kind: 'ack', ack }, now, ack.to);
      }
    }
  }

  // ---- Audit

  #onUsage(link: Link, id: number, result: Result<unknown, ClientFailure>, now: Millis): void {
    const audit = this.#audit;
    if (audit === undefined || audit.id !== id) return;
    const report = result.ok ? (result.value as UsageReport) : undefined;
    const usage = audit.usage.find((u) => bytesEqual(u.relay, link.key));
    if (report === undefined || usage === undefined) {
      audit.unreachable.push(link.address);
      audit.waiting.delete(link.address);
      return this.#finishAudit(audit);
    }
    for (const entry of report.usage) {
      const path = parsePath(entry.path);
      if (path.ok && usage.entries.length < this.limits.auditEntriesMax)
        usage.entries.push({ receiver: entry.receiver, path: path.value, ts: entry.ts, bytes: entry.bytes });
    }
    const more = !report.complete && usage.entries.length < this.limits.auditEntriesMax;
    const window = { afterTs: report.throughTs, beforeTs: this.#m.wall(now) };
    if (!more || !this.#request(link, { type: 'RequestUsage', ...window }, { kind: 'usage', audit: id }, now))
      audit.waiting.delete(link.address);
    this.#finishAudit(audit);
  }

  #finishAudit(audit: Audit): void {
    if (audit.waiting.size > 0) return;
    this.#audit = undefined;
    const rows = auditDeliveries(audit.usage, [...this.#acks.values()]);
    this.#emit({ type: 'relay-audit', audit: audit.id, rows, unreachable: audit.unreachable });
  }

  // ---- Restart

  #restore(row: MailboxRow): void {
    if (row.key.startsWith('out:')) {
      const relays = decodeWrittenRow(row.value);
      if (relays !== undefined) this.#written.set(row.key.slice(4), relays);
    } else if (row.key.startsWith('ack:')) {
      const ack = decodeAckRow(row.value);
      if (ack !== undefined) this.#acks.set(row.key.slice(4), ack);
    }
  }
}

/** Refusals that say "not now" (the relay is busy, an answer was lost), not "never". */
function transient(failure: ClientFailure): boolean {
  return TRANSIENT.has(failure.code);
}

const TRANSIENT: ReadonlySet<string> = new Set([
  'RELAY_CLIENT_TIMEOUT',
  'RELAY_CLIENT_TOO_MANY_REQUESTS',
  'RELAY_BUSY',
  'RELAY_UNAVAILABLE',
  'RELAY_STALE',
]);

/** The inbox is full: the record stays on the relay for a later listen. */
const FULL: ReadonlySet<string> = new Set(['REPLICANT_INBOX_FULL', 'REPLICANT_STRANGERS_FULL']);
