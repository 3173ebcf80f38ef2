import { type Millis, type Result, fromHex, toHex } from '@postern/core';
import { parseRelayAddress } from '@postern/relay';
import type { ClientFailure } from '@postern/relay';
import { type Link, type MailboxCore, RELAY_WIDE, transient } from './core.ts';
import { type Written, decodeWrittenRow, encodeWrittenRow } from './rows.ts';

/** Tag of a message record: a sealed envelope to the receiver. */
export const MESSAGE_TAG = 'msg';

/**
 * This user's messages on its own relays: each written (recordId = envelope id) as the policy says,
 * the relay's signed `true` making it `stored`; where it was written is persisted, so a restart
 * does not write again; once it is delivered or expired its records are deleted, on relays that
 * were down as soon as they are back.
 */
export class OutgoingRelays {
  readonly #c: MailboxCore;
  /** Outbox keys → the relays (keys, hex) holding the message. */
  readonly #written = new Map<string, Written>();

  constructor(core: MailboxCore) {
    this.#c = core;
  }

  /** Anything to do at the next sync: messages to write, or records to delete. */
  get waiting(): boolean {
    return this.#c.m.outbox.unfinished > 0 || this.#written.size > 0;
  }

  restore(key: string, value: Uint8Array): void {
    const written = decodeWrittenRow(value);
    if (written !== undefined) this.#written.set(key, written);
  }

  onOutbox(key: string, state: string, now: Millis): void {
    if (state === 'queued') for (const link of this.#c.ownUp()) this.#write(link, key, now);
    else if (state === 'delivered' || state === 'expired') this.#forget(key, now);
  }

  /** An own relay came up, or the sync timer fired: what it should hold, and what it should no longer. */
  sync(link: Link, now: Millis): void {
    for (const entry of this.#c.m.outbox.entries()) {
      if (link.session.pending >= this.#c.limits.requestsPerRelayMax / 2) return; // the next sync goes on
      this.#write(link, entry.key, now);
    }
    const wall = this.#c.m.wall(now);
    for (const [key, written] of this.#written) {
      if (written.until <= wall)
        this.#drop(key); // its records have expired on every relay
      else if (this.#finished(key)) this.#forget(key, now);
    }
  }

  /** This user's relays changed: records on relays it no longer lists are left to their TTL. */
  onRelaysChanged(): void {
    const own = new Set(this.#c.own().map((a) => this.#c.links.get(a)?.keyHex ?? relayKeyHex(a)));
    for (const [key, written] of this.#written) {
      const before = written.relays.size;
      for (const hex of written.relays) if (!own.has(hex)) written.relays.delete(hex);
      if (written.relays.size === 0) this.#drop(key);
      else if (written.relays.size !== before) this.#c.persist(`out:${key}`, encodeWrittenRow(written));
    }
  }

  /** A delete of one of this user's records was answered: that relay no longer holds it. */
  onDeleted(link: Link, key: string, result: Result<unknown, ClientFailure>): void {
    if (!result.ok && transient(result.error)) return; // the next sync sends it again
    const written = this.#written.get(key);
    if (written === undefined || !written.relays.delete(link.keyHex)) return;
    if (written.relays.size === 0) this.#drop(key);
    else this.#c.persist(`out:${key}`, encodeWrittenRow(written));
  }

  onWritten(link: Link, key: string, result: Result<unknown, ClientFailure>, now: Millis): void {
    if (!result.ok) return this.#onRefused(link, key, result.error, now);
    const entry = this.#c.m.outbox.get(key);
    if (entry === undefined || this.#finished(key)) {
      // Delivered (or expired) while the write was on its way: the record is not needed.
      return this.#delete(link, key, now);
    }
    const written = this.#written.get(key) ?? {
      relays: new Set<string>(),
      until: entry.header.timestampMs + entry.header.ttlMs,
    };
    written.relays.add(link.keyHex);
    this.#written.set(key, written);
    this.#c.persist(`out:${key}`, encodeWrittenRow(written));
    this.#bound();
    this.#c.m.storedOnRelay(key, link.key);
  }

  #onRefused(link: Link, key: string, failure: ClientFailure, now: Millis): void {
    if (transient(failure)) return; // the next sync writes it again
    if (!RELAY_WIDE.has(failure.code)) link.refusedKeys.add(key); // this message, not the relay: an expired one, say
    this.#c.refusedWrite(link, failure, now);
  }

  #write(link: Link, key: string, now: Millis): void {
    const c = this.#c;
    const entry = c.m.outbox.get(key);
    if (entry === undefined || entry.row.system || this.#finished(key)) return;
    if (link.writesAfter > now || link.refusedKeys.has(key)) return;
    if (this.#written.get(key)?.relays.has(link.keyHex)) return;
    const wall = c.m.wall(now);
    if (c.limits.policy === 'fallback') {
      if (entry.row.state !== 'queued' || wall - entry.row.at < c.limits.fallbackAfterMs) return;
    }
    const ttl = Math.min(entry.header.timestampMs + entry.header.ttlMs - wall, link.session.limits.ttlMsMax);
    if (ttl <= 0) return;
    for (const r of link.requests.values()) if (r.kind === 'write' && r.key === key) return;
    const write = { recordId: entry.header.id, ttl, tag: MESSAGE_TAG, content: entry.row.env };
    c.request(link, { type: 'write', ...write }, { kind: 'write', key }, now, entry.header.recipient);
  }

  /** Delivered or expired: its records are deleted where the relay is up, the rest when it is back. */
  #forget(key: string, now: Millis): void {
    for (const link of this.#c.links.values()) link.refusedKeys.delete(key);
    const written = this.#written.get(key);
    if (written === undefined) return;
    for (const link of this.#c.ownUp()) if (written.relays.has(link.keyHex)) this.#delete(link, key, now);
  }

  /** Sends a delete of a message's record, unless one is on its way; its answer settles the row. */
  #delete(link: Link, key: string, now: Millis): void {
    for (const r of link.requests.values()) if (r.kind === 'delete' && r.key === key) return;
    const recordId = fromHex(key.slice(key.indexOf(':') + 1));
    if (recordId.ok)
      this.#c.request(link, { type: 'delete', recordId: recordId.value }, { kind: 'delete', key }, now);
  }

  #drop(key: string): void {
    if (this.#written.delete(key)) this.#c.persist(`out:${key}`, undefined);
  }

  /** At most `writtenMax` rows: beyond it, those whose records expire soonest are forgotten (left to their TTL). */
  #bound(): void {
    const excess = this.#written.size - this.#c.limits.writtenMax;
    if (excess <= 0) return;
    const soonest = [...this.#written].sort((a, b) => a[1].until - b[1].until).slice(0, excess);
    for (const [key] of soonest) this.#drop(key);
  }

  /** Delivered, expired, or gone from the outbox (dropped once finished). */
  #finished(key: string): boolean {
    const state = this.#c.m.outbox.get(key)?.row.state;
    return state === undefined || state === 'delivered' || state === 'expired';
  }
}

/** The key (hex) of a relay address, for one that has no link. */
function relayKeyHex(address: string): string {
  const parsed = parseRelayAddress(address);
  return parsed.ok ? toHex(parsed.value.key) : '';
}
