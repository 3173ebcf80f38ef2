import { type Millis, type NodeId, bytesEqual } from '@postern/core';
import { ID_BITS, commonPrefixBits, compareDistance, requireId } from './distance.ts';
import type { KademliaLimits } from './limits.ts';

/** A node we can reach: its id (the hash of its transport static key) and where it listens. */
export interface Contact {
  readonly id: NodeId;
  readonly addresses: readonly string[];
}

/** What `observe` did with a contact; `ping` asks the caller to ping a bucket's least-recently-seen contact. */
export type Observation =
  | { readonly type: 'updated' | 'added' }
  | { readonly type: 'cached'; readonly ping: Contact | undefined }
  | { readonly type: 'ignored' };

interface Entry {
  contact: Contact;
  lastSeenAt: Millis;
}

interface Bucket {
  /** Least recently seen first. */
  readonly entries: Entry[];
  /** Most recently seen last; at most `replacementCacheSize`. */
  readonly replacements: Entry[];
  /** The contact being pinged because a newcomer wants its place. */
  pinging: NodeId | undefined;
  lastTouchedAt: Millis;
}

/**
 * The k-buckets of one node, sans-I/O (Kademlia §2.2, 2.4): bucket i holds contacts whose ids share
 * exactly i leading bits with ours. A bucket keeps its contacts least recently seen first and never
 * evicts a live one: when a newcomer finds it full, the newcomer waits in the bucket's replacement
 * cache and the caller is asked to ping the oldest contact; only if that ping fails
 * (`pingFailed`) does the most recently seen replacement take its place. Long-lived nodes stay, which
 * is what makes the table hard to flood with fresh ids. The table itself sends nothing.
 */
export class RoutingTable {
  readonly self: NodeId;
  readonly #limits: Pick<KademliaLimits, 'bucketSize' | 'replacementCacheSize'>;
  readonly #buckets: Bucket[];
  #size = 0;

  constructor(
    self: NodeId,
    limits: Pick<KademliaLimits, 'bucketSize' | 'replacementCacheSize'>,
    now: Millis,
  ) {
    requireId(self, 'self');
    this.self = self;
    this.#limits = limits;
    this.#buckets = Array.from({ length: ID_BITS }, () => ({
      entries: [],
      replacements: [],
      pinging: undefined,
      lastTouchedAt: now,
    }));
  }

  /** Contacts in the buckets (not counting replacement caches). */
  get size(): number {
    return this.#size;
  }

  has(id: Uint8Array): boolean {
    return this.#find(id) !== undefined;
  }

  /** We heard from `contact` (a request or an answer): it moves to its bucket's most-recent end. */
  observe(contact: Contact, now: Millis): Observation {
    requireId(contact.id, 'contact.id');
    if (bytesEqual(contact.id, this.self)) return { type: 'ignored' };
    const bucket = this.#bucketOf(contact.id);
    const index = bucket.entries.findIndex((e) => bytesEqual(e.contact.id, contact.id));
    if (index >= 0) {
      bucket.entries.splice(index, 1);
      bucket.entries.push({ contact, lastSeenAt: now });
      if (bucket.pinging !== undefined && bytesEqual(bucket.pinging, contact.id)) bucket.pinging = undefined;
      return { type: 'updated' };
    }
    if (bucket.entries.length < this.#limits.bucketSize) {
      this.#dropReplacement(bucket, contact.id);
      bucket.entries.push({ contact, lastSeenAt: now });
      this.#size++;
      return { type: 'added' };
    }
    this.#cacheReplacement(bucket, { contact, lastSeenAt: now });
    if (bucket.pinging !== undefined) return { type: 'cached', ping: undefined };
    const oldest = bucket.entries[0] as Entry;
    bucket.pinging = oldest.contact.id;
    return { type: 'cached', ping: oldest.contact };
  }

  /** The pinged contact answered: it stays, as the most recently seen. */
  pingAnswered(id: NodeId, now: Millis): void {
    const found = this.#find(id);
    if (found === undefined) return;
    this.observe(found.entry.contact, now);
  }

  /**
   * The contact pinged to make room did not answer: it leaves its bucket, and the most recently
   * seen replacement takes its place (in last-seen order).
   */
  pingFailed(id: NodeId): void {
    const found = this.#find(id);
    if (found === undefined) return;
    const { bucket, index } = found;
    bucket.entries.splice(index, 1);
    this.#size--;
    if (bucket.pinging !== undefined && bytesEqual(bucket.pinging, id)) bucket.pinging = undefined;
    this.#dropReplacement(bucket, id);
    const replacement = bucket.replacements.pop();
    if (replacement !== undefined) {
      const at = bucket.entries.findIndex((e) => e.lastSeenAt > replacement.lastSeenAt);
      bucket.entries.splice(at < 0 ? bucket.entries.length : at, 0, replacement);
      this.#size++;
    }
  }

  /**
   * Some request to a contact timed out. One loss is not death: the contact goes only if a
   * replacement is waiting to take its place (an empty bucket slot helps nobody); otherwise it stays,
   * and the next newcomer's ping of the oldest contact settles it.
   */
  unresponsive(id: NodeId): void {
    const found = this.#find(id);
    if (found === undefined || found.bucket.replacements.length === 0) return;
    this.pingFailed(id);
  }

  /** The ping `observe` asked for could not be sent: the bucket may ask again. */
  pingAbandoned(id: NodeId): void {
    const found = this.#find(id);
    if (found?.bucket.pinging !== undefined && bytesEqual(found.bucket.pinging, id))
      found.bucket.pinging = undefined;
  }

  /** The contact for `id`, if it is in a bucket. */
  contact(id: Uint8Array): Contact | undefined {
    return this.#find(id)?.entry.contact;
  }

  /**
   * The `count` known contacts closest to `target` by XOR distance, closest first. Buckets are
   * visited in distance order (see docs/protocols/kademlia.md): the target's own bucket, then every
   * bucket nearer to us as one group, then the farther ones one by one; each group is nearer to the
   * target than the next, so only groups are sorted, and we stop once `count` are collected.
   */
  closest(target: Uint8Array, count: number, exclude?: (id: NodeId) => boolean): Contact[] {
    requireId(target, 'target');
    const home = Math.min(commonPrefixBits(this.self, target), ID_BITS - 1);
    const found: Contact[] = [];
    const take = (from: number, to: number) => {
      const start = found.length;
      for (let i = from; i < to; i++) {
        for (const { contact } of (this.#buckets[i] as Bucket).entries)
          if (!exclude?.(contact.id)) found.push(contact);
      }
      const group = found.splice(start).sort((a, b) => compareDistance(target, a.id, b.id));
      for (const contact of group) found.push(contact);
    };
    take(home, home + 1);
    if (found.length < count) take(home + 1, ID_BITS);
    for (let i = home - 1; i >= 0 && found.length < count; i--) take(i, i + 1);
    return found.slice(0, count);
  }

  /** Every contact, bucket by bucket. */
  contacts(): Contact[] {
    return this.#buckets.flatMap((bucket) => bucket.entries.map((e) => e.contact));
  }

  /** A lookup of `target` counts as refreshing the bucket `target` falls in. */
  touch(target: Uint8Array, now: Millis): void {
    const bucket = this.#buckets[Math.min(commonPrefixBits(this.self, target), ID_BITS - 1)] as Bucket;
    bucket.lastTouchedAt = now;
  }

  /**
   * Buckets to refresh: those not touched for `refreshMs`, up to the farthest-from-us bucket that
   * holds a contact plus one (buckets beyond stay empty in a network of this size: refreshing all
   * 256 would be 256 useless lookups an hour).
   */
  staleBuckets(now: Millis, refreshMs: number): number[] {
    let last = -1;
    for (let i = ID_BITS - 1; i >= 0; i--) {
      if ((this.#buckets[i] as Bucket).entries.length > 0) {
        last = i;
        break;
      }
    }
    const stale: number[] = [];
    for (let i = 0; i <= Math.min(last + 1, ID_BITS - 1); i++) {
      if (now - (this.#buckets[i] as Bucket).lastTouchedAt >= refreshMs) stale.push(i);
    }
    return stale;
  }

  #bucketOf(id: Uint8Array): Bucket {
    return this.#buckets[Math.min(commonPrefixBits(this.self, id), ID_BITS - 1)] as Bucket;
  }

  #find(id: Uint8Array): { bucket: Bucket; index: number; entry: Entry } | undefined {
    if (id.length !== this.self.length || bytesEqual(id, this.self)) return undefined;
    const bucket = this.#bucketOf(id);
    const index = bucket.entries.findIndex((e) => bytesEqual(e.contact.id, id));
    return index < 0 ? undefined : { bucket, index, entry: bucket.entries[index] as Entry };
  }

  #cacheReplacement(bucket: Bucket, entry: Entry): void {
    this.#dropReplacement(bucket, entry.contact.id);
    bucket.replacements.push(entry);
    if (bucket.replacements.length > this.#limits.replacementCacheSize) bucket.replacements.shift();
  }

  #dropReplacement(bucket: Bucket, id: Uint8Array): void {
    const known = bucket.replacements.findIndex((e) => bytesEqual(e.contact.id, id));
    if (known >= 0) bucket.replacements.splice(known, 1);
  }
}
