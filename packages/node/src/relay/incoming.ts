import { type MessagingId, type Millis, type Result, bytesEqual, toHex, utf8 } from '@postern/core';
import { parseEnvelope } from '@postern/envelope';
import { recipientKeys } from '@postern/identity';
import {
  ACK_TAG,
  type Ack,
  type ClientFailure,
  type RelayMessage,
  type WriteRequest,
  openAck,
  parsePath,
  sealAck,
} from '@postern/relay';
import { type Link, type MailboxCore, RELAY_WIDE, type Request, transient } from './core.ts';
import { type OwedAck, decodeAckRow, decodeOwedRow, encodeAckRow, encodeOwedRow } from './rows.ts';

/** An envelope from a clock ahead of ours is read again this many times, then left to the relay. */
const DEFERRALS_MAX = 3;

/** Left on the relay for later: the inbox is full, or the envelope is from a clock ahead of ours. */
const LATER: ReadonlySet<string> = new Set([
  'REPLICANT_INBOX_FULL',
  'REPLICANT_STRANGERS_FULL',
  'ENVELOPE_FROM_FUTURE',
]);

/**
 * What this user's contacts' relays hold for it: listened for, read (contacts' records only),
 * handed to the Replicant machine's receive path, acknowledged on the user's own relays (the
 * acknowledgement, owed until a relay takes it, is persisted before the record is deleted), and
 * deleted. Acknowledgements of this user's own records are kept for audits, and their receipts
 * applied.
 */
export class IncomingRelays {
  readonly #c: MailboxCore;
  /** Paths handled (`relay key hex` + path), so a record pushed again (on a new connection, or by the relay's other address) is not read again. */
  readonly #handled = new Set<string>();
  /** Acknowledgements of this user's records, by `relayhex path`, oldest first. */
  readonly #acks = new Map<string, Ack>();
  /** Acknowledgements this user owes, by record id (hex), and how many writes of each are in flight. */
  readonly #owed = new Map<string, { ack: OwedAck; sending: number }>();

  constructor(core: MailboxCore) {
    this.#c = core;
  }

  get acks(): readonly Ack[] {
    return [...this.#acks.values()];
  }

  get owed(): number {
    return this.#owed.size;
  }

  restore(table: 'ack' | 'ackq', key: string, value: Uint8Array): void {
    if (table === 'ack') {
      const ack = decodeAckRow(value);
      if (ack !== undefined) this.#acks.set(key, ack);
    } else {
      const owed = decodeOwedRow(value);
      if (owed !== undefined) this.#owed.set(key, { ack: owed, sending: 0 });
    }
  }

  /** After restoring: the oldest acknowledgements first, as they were kept. */
  sortRestored(): void {
    const sorted = [...this.#acks].sort((a, b) => a[1].at - b[1].at);
    this.#acks.clear();
    for (const [key, ack] of sorted) this.#acks.set(key, ack);
  }

  listen(link: Link, now: Millis): void {
    const sent = this.#c.request(link, { type: 'listen', afterTs: 0 }, { kind: 'listen' }, now);
    link.listenAt = sent ? undefined : now + this.#c.limits.syncEveryMs;
  }

  onListenAnswer(link: Link, result: Result<unknown, ClientFailure>, now: Millis): void {
    if (result.ok || link.state !== 'up') return; // a closed connection listens again when back
    if (!transient(result.error)) this.#c.refused(link, 'listen', result.error);
    link.listenAt = now + this.#c.limits.syncEveryMs;
  }

  /** Paths a listen pushed: contacts' records are queued for reading, the rest left alone. */
  onPushed(link: Link, paths: readonly string[], now: Millis): void {
    const c = this.#c;
    let foreign = 0;
    for (const path of paths) {
      const parsed = parsePath(path);
      if (!parsed.ok || !bytesEqual(parsed.value.receiver, c.m.messagingId)) {
        foreign++;
        continue;
      }
      const sender = toHex(parsed.value.sender);
      // Only contacts' records are read (and charged): a stranger's are left to expire.
      if (!c.m.peers.has(sender) || link.deferred.has(path) || link.toRead.has(path)) continue;
      if (c.m.hasSeen(`${sender}:${toHex(parsed.value.recordId)}`)) {
        // Came another way already (its recordId is its envelope id): not read, only removed —
        // again if it is pushed again (its delete may have been lost).
        this.#done(link, path);
        this.#queueDelete(link, parsed.value.recordId);
      } else if (this.#handled.has(`${link.keyHex} ${path}`)) continue;
      else if (link.toRead.size < c.limits.readQueueMax) link.toRead.set(path, { tries: 0, deferrals: 0 });
      else link.overflowed = true;
    }
    if (foreign > 0) c.misbehaved(link, `pushed ${foreign} paths that are not this user's`);
    this.pump(link, now);
  }

  /**
   * Sends queued deletes and reads while the connection has room; a request that does not fit stays
   * queued. Paths dropped for want of room come again from a fresh connection's backfill: once the
   * queues are empty, an overflowed connection is cycled.
   */
  pump(link: Link, now: Millis): void {
    const c = this.#c;
    const room = () => link.state === 'up' && link.session.pending < c.limits.requestsPerRelayMax;
    for (const [hex, recordId] of link.toDelete) {
      if (!room()) return;
      link.toDelete.delete(hex);
      c.request(link, { type: 'delete', recordId }, { kind: 'delete' }, now);
    }
    for (const [path, queued] of link.toRead) {
      if (link.reads >= c.limits.readsInFlightMax || !room()) return;
      link.toRead.delete(path);
      c.request(link, { type: 'read', path }, { kind: 'read', path, ...queued }, now);
      link.reads++;
    }
    if (link.overflowed && link.reads === 0 && link.toRead.size === 0 && link.toDelete.size === 0)
      c.cycle(link, now);
  }

  /** Records left for later are read again once due (a full inbox: once it has room again). */
  readDeferred(link: Link, now: Millis): void {
    const c = this.#c;
    link.deferredAt = undefined;
    for (const [path, deferred] of link.deferred) {
      const waiting = deferred.at > now || (deferred.full && !c.m.inboxHasRoom());
      if (waiting || link.toRead.size >= c.limits.readQueueMax) {
        if (deferred.at <= now) deferred.at = now + c.limits.refusedBackoffMs; // no read spent waiting
        link.deferredAt = Math.min(link.deferredAt ?? Infinity, deferred.at);
        continue;
      }
      link.deferred.delete(path);
      link.toRead.set(path, { tries: 0, deferrals: deferred.deferrals });
    }
    this.pump(link, now);
  }

  onRead(
    link: Link,
    request: Extract<Request, { kind: 'read' }>,
    result: Result<unknown, ClientFailure>,
    now: Millis,
  ): void {
    link.reads = Math.max(0, link.reads - 1);
    const { path } = request;
    if (!result.ok) this.#onReadFailed(link, request, result.error);
    else {
      const record = result.value as RelayMessage<WriteRequest> | null;
      if (record === null)
        this.#done(link, path); // gone: expired, or deleted by its sender
      else if (record.request.tag === ACK_TAG) this.#onAckRecord(link, path, record, now);
      else this.#onMessageRecord(link, request, record, now);
    }
    this.pump(link, now);
  }

  #onReadFailed(link: Link, request: Extract<Request, { kind: 'read' }>, failure: ClientFailure): void {
    const { path } = request;
    if (failure.code === 'RELAY_CLIENT_BAD_ANSWER') this.#c.misbehaved(link, failure.error);
    if (!transient(failure)) return this.#done(link, path); // pull limit, not ours: never readable
    if (link.state !== 'up') return; // the next connection's listen pushes it again
    if (request.tries < this.#c.limits.readTriesMax)
      link.toRead.set(path, { tries: request.tries + 1, deferrals: request.deferrals });
    else link.overflowed = true; // read again from a fresh connection
  }

  #onMessageRecord(
    link: Link,
    request: Extract<Request, { kind: 'read' }>,
    record: RelayMessage<WriteRequest>,
    now: Millis,
  ): void {
    const c = this.#c;
    const { path } = request;
    const sender = parseEnvelope(record.request.content);
    if (!sender.ok || !bytesEqual(sender.value.sender, record.from)) {
      // A contact may only pass on its own envelopes: otherwise a stranger's would reach the inbox.
      this.#done(link, path);
      this.#queueDelete(link, record.request.recordId);
      return c.emit({
        type: 'sender-misbehaved',
        sender: record.from as MessagingId,
        code: 'RELAY_NOT_SENDERS_ENVELOPE',
      });
    }
    const taken = c.m.takeFromRelay(link.key, record.request.content, now);
    if (!taken.ok && LATER.has(taken.error.code)) return this.#defer(link, request, taken.error.code, now);
    this.#done(link, path);
    if (taken.ok) this.#owe(link, path, record.from, taken.value.receipt, now); // persisted before the delete leaves
    this.#queueDelete(link, record.request.recordId);
  }

  /**
   * Left on the relay for later. A full inbox costs no read until it has room; an envelope from a
   * clock ahead of ours is read again after 1, 2, 4 min and then left (each read counts against the
   * relay's pull limit).
   */
  #defer(link: Link, request: Extract<Request, { kind: 'read' }>, code: string, now: Millis): void {
    const c = this.#c;
    const full = code !== 'ENVELOPE_FROM_FUTURE';
    if (!full && request.deferrals >= DEFERRALS_MAX) return this.#done(link, request.path);
    if (link.deferred.size >= c.limits.readQueueMax) return void (link.overflowed = true);
    const at = now + c.limits.refusedBackoffMs * 2 ** (full ? 0 : request.deferrals);
    link.deferred.set(request.path, { deferrals: request.deferrals + (full ? 0 : 1), at, full });
    link.deferredAt = Math.min(link.deferredAt ?? Infinity, at);
  }

  /** An acknowledgement of one of this user's records, from the contact that took it. */
  #onAckRecord(link: Link, path: string, record: RelayMessage<WriteRequest>, now: Millis): void {
    const c = this.#c;
    this.#done(link, path);
    this.#queueDelete(link, record.request.recordId);
    const ack = openAck(c.crypto, c.m.identity, record.request.content, c.m.wall(now) as Millis);
    if (!ack.ok || !bytesEqual(ack.value.receiver, record.from)) {
      const code = ack.ok ? 'RELAY_ACK_MISMATCH' : ack.error.code;
      return c.emit({ type: 'sender-misbehaved', sender: record.from as MessagingId, code });
    }
    const { receiver: _receiver, ...kept } = ack.value;
    const key = `${toHex(kept.relay)} ${kept.path}`;
    this.#acks.delete(key);
    this.#acks.set(key, kept);
    c.persist(`ack:${key}`, encodeAckRow(kept));
    for (const old of this.#acks.keys()) {
      if (this.#acks.size <= c.limits.acksKeptMax) break;
      this.#acks.delete(old);
      c.persist(`ack:${old}`, undefined);
    }
    if (kept.receipt !== null) c.m.applyReceipts([kept.receipt]);
  }

  #done(link: Link, path: string): void {
    const key = `${link.keyHex} ${path}`;
    this.#handled.delete(key);
    this.#handled.add(key);
    for (const old of this.#handled) {
      if (this.#handled.size <= this.#c.limits.handledPathsMax) break;
      this.#handled.delete(old);
    }
  }

  #queueDelete(link: Link, recordId: Uint8Array): void {
    if (link.toDelete.size < this.#c.limits.readQueueMax) link.toDelete.set(toHex(recordId), recordId);
    else link.overflowed = true;
  }

  // ---- Acknowledgements this user owes

  /** Seed 003: the receiver places an acknowledgement on its own relays, sealed to the sender. */
  #owe(link: Link, path: string, sender: Uint8Array, receipt: Uint8Array, now: Millis): void {
    const c = this.#c;
    const contact = c.m.contact(sender as MessagingId);
    if (contact === undefined || c.own().length === 0) return;
    const wall = c.m.wall(now);
    const ack = { relay: link.key, path, at: wall, receipt };
    const options = { ttlMs: c.limits.ackTtlMs, now: wall as Millis };
    const content = sealAck(c.crypto, c.m.identity, recipientKeys(contact.document), ack, options);
    const recordId = c.crypto.blake2b(utf8(`postern/relay-ack\n${link.keyHex} ${path}`), 16);
    const owed: OwedAck = { to: contact.id, recordId, content, until: wall + c.limits.ackTtlMs };
    const id = toHex(recordId);
    this.#owed.set(id, { ack: owed, sending: 0 });
    c.persist(`ackq:${id}`, encodeOwedRow(owed));
    for (const old of this.#owed.keys()) {
      if (this.#owed.size <= c.limits.ackQueueMax) break;
      this.#forgetOwed(old);
    }
    this.flushAcks(now);
  }

  /** Owed acknowledgements go to every own relay that is up; the first to take one settles it. */
  flushAcks(now: Millis): void {
    const c = this.#c;
    const up = c.ownUp();
    const wall = c.m.wall(now);
    for (const [id, entry] of this.#owed) {
      const ttl = entry.ack.until - wall;
      if (ttl <= 0) {
        this.#forgetOwed(id);
        continue;
      }
      if (entry.sending > 0) continue;
      const write = { recordId: entry.ack.recordId, ttl, tag: ACK_TAG, content: entry.ack.content };
      for (const link of up) {
        if (link.writesAfter > now) continue;
        if (c.request(link, { type: 'write', ...write }, { kind: 'ack', id }, now, entry.ack.to))
          entry.sending++;
      }
    }
  }

  onAckWritten(link: Link, id: string, result: Result<unknown, ClientFailure>, now: Millis): void {
    const entry = this.#owed.get(id);
    if (entry === undefined) return;
    entry.sending = Math.max(0, entry.sending - 1);
    // Taken: written before (an acknowledgement of a record read twice), nothing more to do.
    if (result.ok || result.error.code === 'RELAY_RECORD_ID_TAKEN') return this.#forgetOwed(id);
    if (transient(result.error)) return; // the next flush (a relay back, the sync timer) tries again
    this.#c.refusedWrite(link, result.error, now);
    if (!RELAY_WIDE.has(result.error.code)) this.#forgetOwed(id); // this acknowledgement can never be written
  }

  #forgetOwed(id: string): void {
    if (this.#owed.delete(id)) this.#c.persist(`ackq:${id}`, undefined);
  }
}
