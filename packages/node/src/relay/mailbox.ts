import { type Millis, type Result, toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  type Ack,
  type ClientEvent,
  type ClientFailure,
  type RelayDecodeError,
  type RelayMessage,
  RelayClientSession,
  parseRelayAddress,
} from '@postern/relay';
import type { ReplicantEvent, ReplicantMachine } from '@postern/replicant';
import { type Link, MailboxCore, type RelayEvent, type Request, earliest } from './core.ts';
import { IncomingRelays } from './incoming.ts';
import { OutgoingRelays } from './outgoing.ts';
import type { Limits, MailboxRow } from './rows.ts';
import { UsageAudit } from './usage-audit.ts';

/** Requests in a row that time out on an open connection before it is taken for dead. */
const TIMEOUTS_MAX = 3;

export interface RelayMailboxOptions {
  readonly crypto: CryptoProvider;
  readonly messaging: ReplicantMachine;
  readonly emit: (event: RelayEvent | ReplicantEvent) => void;
  readonly limits: Limits;
  readonly rows: Iterable<MailboxRow>;
}

/**
 * The relay client inside a node (seed 003), sans-I/O: it writes this user's outgoing envelopes to
 * the user's own relays (outgoing.ts), listens on its contacts' relays and takes what they hold for
 * it through the Replicant machine's receive path, acknowledging it on its own relays
 * (incoming.ts), and audits its relays' charges (usage-audit.ts). This file keeps the connections:
 * which relays (own first, then those most contacts use), dialling with backoff, one
 * RelayClientSession per relay checking every answer's signature, and a connection cut when its
 * relay misbehaves. Nothing goes out before `start`. Spec: docs/protocols/relay.md ("Client in the node").
 */
export class RelayMailbox {
  readonly #c: MailboxCore;
  readonly #out: OutgoingRelays;
  readonly #in: IncomingRelays;
  readonly #audit: UsageAudit;
  /** Each contact's relay addresses, and how many contacts use each address. */
  readonly #contactRelays = new Map<string, readonly string[]>();
  readonly #users = new Map<string, number>();
  #syncAt: number | undefined;
  #started = false;

  constructor(options: RelayMailboxOptions) {
    this.#c = new MailboxCore(options.crypto, options.messaging, options.limits, options.emit);
    this.#out = new OutgoingRelays(this.#c);
    this.#in = new IncomingRelays(this.#c);
    this.#audit = new UsageAudit(this.#c, () => this.#in.acks);
    this.#c.cycle = (link, now) => this.#cycle(link, now);
    for (const row of options.rows) {
      const colon = row.key.indexOf(':');
      const [table, key] = [row.key.slice(0, colon), row.key.slice(colon + 1)];
      if (table === 'out') this.#out.restore(key, row.value);
      else if (table === 'ack' || table === 'ackq') this.#in.restore(table, key, row.value);
    }
    this.#in.sortRestored();
  }

  get limits(): Limits {
    return this.#c.limits;
  }

  /** Acknowledgements of this user's records received so far (the audit's evidence). */
  get acks(): readonly Ack[] {
    return this.#in.acks;
  }

  /** At start (and restart): every contact's relays are read, and the wanted connections opened. */
  start(now: Millis): void {
    this.#started = true;
    for (const contact of this.#c.m.peers.values())
      this.#setContactRelays(contact.hex, contact.document.relays);
    this.#reconcile(now);
    this.#armSync(now);
  }

  /** What the Replicant machine did that concerns relays. */
  onMessaging(event: ReplicantEvent, now: Millis): void {
    if (event.type === 'persist' && event.table === 'contact') {
      const before = this.#contactRelays.get(event.key)?.join('\n') ?? '';
      this.#setContactRelays(event.key, this.#c.m.peers.get(event.key)?.document.relays ?? []);
      if ((this.#contactRelays.get(event.key)?.join('\n') ?? '') !== before) this.#reconcile(now);
    } else if (event.type === 'identity-changed') {
      this.#out.onRelaysChanged();
      this.#reconcile(now);
    } else if (event.type === 'outbox') {
      this.#out.onOutbox(event.key, event.state, now);
    }
    this.#armSync(now);
  }

  relayUp(address: string, now: Millis): void {
    const link = this.#c.links.get(address);
    if (link === undefined || link.state === 'up') return;
    link.state = 'up';
    link.misbehaviour = 0;
    link.timeouts = 0;
    link.lastSentAt = now;
    this.#listenIfWanted(link, now);
    if (this.#c.own().includes(address)) {
      this.#out.sync(link, now);
      this.#in.flushAcks(now);
    }
    if (link.deferred.size > 0) link.deferredAt = now;
    this.#armSync(now);
  }

  relayDown(address: string, now: Millis): void {
    const link = this.#c.links.get(address);
    if (link !== undefined) this.#down(link, now, this.#backoff(++link.failures));
  }

  /** One message from a relay's connection. */
  relayMessage(address: string, decoded: Result<RelayMessage, RelayDecodeError>, now: Millis): void {
    const link = this.#c.links.get(address);
    if (link === undefined || link.state !== 'up') return;
    if (!decoded.ok)
      this.#c.misbehaved(link, `an undecodable message: ${JSON.stringify(decoded.error.error)}`);
    else {
      const event = link.session.handleMessage(decoded.value, this.#c.m.wall(now));
      if (event !== undefined) this.#dispatch(link, [event], now);
    }
    if (link.misbehaviour >= this.#c.limits.misbehaviourMax) {
      // Cut, and dialled again only after the longest backoff.
      this.#c.emit({ type: 'relay-disconnect', relay: link.address });
      this.#down(link, now, this.#c.limits.reconnectMaxMs);
    }
    this.#armSync(now);
  }

  /**
   * Asks this user's relays for their usage reports; a `relay-audit` event sets them beside the
   * acknowledgements received. Undefined while an audit runs.
   */
  audit(now: Millis): number | undefined {
    return this.#audit.start(now);
  }

  handleTimeout(now: Millis): void {
    const wall = this.#c.m.wall(now);
    for (const link of this.#c.links.values()) {
      this.#dispatch(link, link.session.handleTimeout(wall), now);
      if (link.state === 'down' && link.retryAt <= now) this.#connect(link);
      if (link.state !== 'up') continue;
      if (link.listenAt !== undefined && link.listenAt <= now) this.#in.listen(link, now);
      if (link.deferredAt !== undefined && link.deferredAt <= now) this.#in.readDeferred(link, now);
      if (now - link.lastSentAt >= this.#c.limits.probeIdleMs) this.#probe(link, now);
    }
    this.#audit.handleTimeout(now);
    if (this.#syncAt !== undefined && now >= this.#syncAt) {
      this.#syncAt = undefined;
      for (const link of this.#c.ownUp()) this.#out.sync(link, now);
      this.#in.flushAcks(now);
    }
    this.#armSync(now);
  }

  nextTimeout(now: Millis): number | undefined {
    const offset = this.#c.m.wall(now) - now;
    const times: (number | undefined)[] = [this.#syncAt, this.#audit.nextTimeout()];
    for (const link of this.#c.links.values()) {
      if (link.state === 'down') times.push(link.retryAt);
      if (link.state !== 'up') continue;
      const session = link.session.nextTimeout();
      const probe = link.lastSentAt + this.#c.limits.probeIdleMs;
      times.push(session === undefined ? undefined : session - offset, link.listenAt, link.deferredAt, probe);
    }
    return earliest(...times);
  }

  // ---- Which relays

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
    const theirs = [...this.#users].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([a]) => a);
    const wanted = [...new Set([...this.#c.own(), ...theirs])].slice(0, this.#c.limits.connectionsMax);
    const keep = new Set(wanted);
    for (const [address, link] of this.#c.links) {
      if (keep.has(address)) continue;
      this.#c.links.delete(address);
      this.#c.emit({ type: 'relay-disconnect', relay: address });
      this.#down(link, now, 0);
    }
    for (const address of wanted) {
      const link = this.#c.links.get(address);
      if (link === undefined) this.#open(address);
      else if (link.state === 'up') {
        this.#listenIfWanted(link, now);
        if (this.#c.own().includes(address)) this.#out.sync(link, now);
      }
    }
  }

  #open(address: string): void {
    const parsed = parseRelayAddress(address);
    if (!parsed.ok) return;
    const c = this.#c;
    const identity = c.m.identity;
    const session = new RelayClientSession({
      crypto: c.crypto,
      key: { publicKey: identity.messagingId, secretKey: identity.signingKey.expose() },
      relayKey: parsed.value.key,
      pendingMax: c.limits.requestsPerRelayMax,
      requestTimeoutMs: c.limits.requestTimeoutMs,
    });
    const link: Link = {
      address,
      key: parsed.value.key,
      keyHex: toHex(parsed.value.key),
      session,
      state: 'down',
      failures: 0,
      retryAt: 0,
      writesAfter: 0,
      listenAt: undefined,
      misbehaviour: 0,
      requests: new Map(),
      lastSentAt: 0,
      timeouts: 0,
      toRead: new Map(),
      toDelete: new Map(),
      deferred: new Map(),
      deferredAt: undefined,
      reads: 0,
      overflowed: false,
      refusedKeys: new Set(),
    };
    c.links.set(address, link);
    this.#connect(link);
  }

  #connect(link: Link): void {
    link.state = 'connecting';
    this.#c.emit({ type: 'relay-connect', relay: link.address });
  }

  /** The connection is gone: marked down first, so nothing failed by the close is sent on it again. */
  #down(link: Link, now: Millis, retryInMs: number): void {
    const wasListening = link.session.listening;
    link.state = 'down';
    link.retryAt = now + retryInMs;
    link.toRead.clear(); // pushed again by the next listen
    link.toDelete.clear(); // pushed again too, and recognised as taken
    link.reads = 0;
    link.overflowed = false;
    link.listenAt = undefined;
    this.#dispatch(link, link.session.handleClosed(), now);
    // The relay's other address (ws and tcp of one relay) takes over the listen, if it is up.
    if (wasListening)
      for (const other of this.#c.links.values())
        if (other.keyHex === link.keyHex) this.#listenIfWanted(other, now);
  }

  /** Closes a connection and dials again at once: a fresh listen backfills what was dropped. */
  #cycle(link: Link, now: Millis): void {
    this.#c.emit({ type: 'relay-disconnect', relay: link.address });
    this.#down(link, now, 0);
  }

  /** Listens on a contact's relay once per relay key, on the first of its addresses that is up. */
  #listenIfWanted(link: Link, now: Millis): void {
    if (link.state !== 'up' || !this.#users.has(link.address) || link.listenAt !== undefined) return;
    for (const other of this.#c.links.values())
      if (other.keyHex === link.keyHex && other.session.listening) return;
    this.#in.listen(link, now);
  }

  /** A quiet connection gets a cheap request (an empty inventory window of one millisecond). */
  #probe(link: Link, now: Millis): void {
    const wall = this.#c.m.wall(now);
    const body = { type: 'inventory', afterTs: wall - 1, beforeTs: wall } as const;
    if (!this.#c.request(link, body, { kind: 'probe' }, now)) link.lastSentAt = now;
  }

  #backoff(failures: number): number {
    const { reconnectMinMs, reconnectMaxMs } = this.#c.limits;
    return Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.max(0, failures - 1));
  }

  // ---- Answers

  #dispatch(link: Link, events: readonly ClientEvent[], now: Millis): void {
    for (const event of events) {
      if (event.type === 'records') this.#in.onPushed(link, event.paths, now);
      else if (event.type === 'relay-misbehaved') this.#c.misbehaved(link, event.reason);
      else if (event.type === 'answer') {
        const request = link.requests.get(event.id);
        link.requests.delete(event.id);
        if (request !== undefined) this.#onAnswer(link, request, event.result, now);
      }
      // Ended by the relay (more than 16 connections of this key listened): asked again later.
      else if (event.type === 'listen-ended') link.listenAt = now + this.#c.limits.syncEveryMs;
    }
    // An answer made room: queued deletes and reads go on.
    if (link.toDelete.size > 0 || link.toRead.size > 0) this.#in.pump(link, now);
  }

  #onAnswer(link: Link, request: Request, result: Result<unknown, ClientFailure>, now: Millis): void {
    if (result.ok) link.failures = 0; // the relay works: a later drop starts the backoff afresh
    const timedOut = !result.ok && result.error.code === 'RELAY_CLIENT_TIMEOUT';
    if (!timedOut) link.timeouts = 0;
    // An open connection that stopped answering is dead: closed (after this answer is handled).
    const dead =
      timedOut && link.state === 'up' && (++link.timeouts >= TIMEOUTS_MAX || request.kind === 'probe');
    this.#handleAnswer(link, request, result, now);
    if (dead && link.state === 'up') this.#cycle(link, now);
  }

  #handleAnswer(link: Link, request: Request, result: Result<unknown, ClientFailure>, now: Millis): void {
    switch (request.kind) {
      case 'write':
        return this.#out.onWritten(link, request.key, result, now);
      case 'ack':
        return this.#in.onAckWritten(link, request.id, result, now);
      case 'read':
        return this.#in.onRead(link, request, result, now);
      case 'listen':
        return this.#in.onListenAnswer(link, result, now);
      case 'usage':
        return this.#audit.onUsage(link, request.audit, result, now);
      case 'delete':
        return request.key === undefined ? undefined : this.#out.onDeleted(link, request.key, result);
      case 'probe':
        return;
    }
  }

  /** A sync is due while messages wait to be written, records to be deleted, or acknowledgements owed. */
  #armSync(now: Millis): void {
    if (this.#syncAt !== undefined || !this.#started || this.#c.own().length === 0) return;
    if (this.#out.waiting || this.#in.owed > 0) this.#syncAt = now + this.#c.limits.syncEveryMs;
  }
}
