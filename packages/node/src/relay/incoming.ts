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
  /** Paths handled (`address path`), so a record pushed again on a new connection is not read again. */
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
    link.listenAt = undefined;
    this.#c.request(link, { type: 'listen', afterTs: 0 }, { kind: 'listen' }, now);
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
      if (!c.m.peers.has(sender) || this.#handled.has(`${link.address} ${path}`)) continue;
      if (c.m.hasSeen(`${sender}:${toHex(parsed.value.recordId)}`)) {
        // Came another way already (its recordId is its envelope id): not read, only removed.
        this.#done(link, path);
        this.#delete(link, parsed.value.recordId, now);
      } else if (link.toRead.size < c.limits.readQueueMax) link.toRead.set(path, 0);
    }
    if (foreign > 0) c.misbehaved(link, `pushed ${foreign} paths that are not this user's`);
    this.readMore(link, now);
  }

  readMore(link: Link, now: Millis): void {
    for (const [path, tries] of link.toRead) {
      if (link.reads >= this.#c.limits.readsInFlightMax || link.state !== 'up') return;
      link.toRead.delete(path);
      if (this.#c.request(link, { type: 'read', path }, { kind: 'read', path, tries }, now)) link.reads++;
    }
  }

  /** Records left for later are read again (the inbox may have room now). */
  readDeferred(link: Link, now: Millis): void {
    link.deferredAt = undefined;
    for (const path of link.deferred) {
      if (link.toRead.size >= this.#c.limits.readQueueMax) break;
      link.deferred.delete(path);
      link.toRead.set(path, 0);
    }
    this.readMore(link, now);
  }

  onRead(
    link: Link,
    request: Extract<Request, { kind: 'read' }>,
    result: Result<unknown, ClientFailure>,
    now: Millis,
  ): void {
    link.reads = Math.max(0, link.reads - 1);
    const { path } = request;
    if (!result.ok) {
      if (!transient(result.error)) this.#done(link, path); // pull limit, not ours: never readable
      if (result.error.code === 'RELAY_CLIENT_BAD_ANSWER') this.#c.misbehaved(link, result.error.error);
      else if (transient(result.error) && request.tries < this.#c.limits.readTriesMax && link.state === 'up')
        link.toRead.set(path, request.tries + 1);
      // Otherwise, when the connection closed, the path comes again with the next listen.
      return this.readMore(link, now);
    }
    const record = result.value as RelayMessage<WriteRequest> | null;
    if (record === null)
      this.#done(link, path); // gone: expired, or deleted by its sender
    else if (record.request.tag === ACK_TAG) this.#onAckRecord(link, path, record, now);
    else this.#onMessageRecord(link, path, record, now);
    this.readMore(link, now);
  }

  #onMessageRecord(link: Link, path: string, record: RelayMessage<WriteRequest>, now: Millis): void {
    const c = this.#c;
    const sender = parseEnvelope(record.request.content);
    if (!sender.ok || !bytesEqual(sender.value.sender, record.from)) {
      // A contact may only pass on its own envelopes: otherwise a stranger's would reach the inbox.
      this.#done(link, path);
      this.#delete(link, record.request.recordId, now);
      return c.emit({
        type: 'sender-misbehaved',
        sender: record.from as MessagingId,
        code: 'RELAY_NOT_SENDERS_ENVELOPE',
      });
    }
    const taken = c.m.takeFromRelay(link.key, record.request.content, now);
    if (!taken.ok && LATER.has(taken.error.code)) return this.#defer(link, path, now);
    this.#done(link, path);
    if (taken.ok) this.#owe(link, path, record.from, taken.value.receipt, now); // persisted before the delete leaves
    this.#delete(link, record.request.recordId, now);
  }

  #defer(link: Link, path: string, now: Millis): void {
    if (link.deferred.size < this.#c.limits.readQueueMax) link.deferred.add(path);
    link.deferredAt ??= now + this.#c.limits.refusedBackoffMs;
  }

  /** An acknowledgement of one of this user's records, from the contact that took it. */
  #onAckRecord(link: Link, path: string, record: RelayMessage<WriteRequest>, now: Millis): void {
    const c = this.#c;
    this.#done(link, path);
    this.#delete(link, record.request.recordId, now);
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
    const key = `${link.address} ${path}`;
    this.#handled.delete(key);
    this.#handled.add(key);
    for (const old of this.#handled) {
      if (this.#handled.size <= this.#c.limits.handledPathsMax) break;
      this.#handled.delete(old);
    }
  }

  #delete(link: Link, recordId: Uint8Array, now: Millis): void {
    this.#c.request(link, { type: 'delete', recordId }, { kind: 'delete' }, now);
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
    this.#c.refused(link, 'write', result.error);
    if (RELAY_WIDE.has(result.error.code)) link.writesAfter = now + this.#c.limits.refusedBackoffMs;
    else this.#forgetOwed(id); // this acknowledgement can never be written
  }

  #forgetOwed(id: string): void {
    if (this.#owed.delete(id)) this.#c.persist(`ackq:${id}`, undefined);
  }
}
