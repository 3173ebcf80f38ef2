import { type Result, err, ok, toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { compareDistance } from './distance.ts';
import type { KademliaLimits } from './limits.ts';
import { type RecordError, type SignedRecord, checkRecord, compareVersions, recordKey } from './records.ts';

export type StoreLimits = Pick<
  KademliaLimits,
  | 'recordValueBytesMax'
  | 'recordSaltBytesMax'
  | 'recordTtlMaxMs'
  | 'storedRecordsMax'
  | 'storedRecordsPerOwnerMax'
>;

export type StoreError =
  | RecordError
  | { code: 'RECORD_STALE'; storedSeq: number }
  | { code: 'RECORD_SEQ_CONFLICT'; seq: number }
  | { code: 'STORE_FULL' };

/** A kept record, and when it was last stored here (wall clock): what republishing goes by. */
export interface StoredEntry {
  readonly key: Uint8Array;
  readonly record: SignedRecord;
  storedAtMs: number;
}

/** How a put went: a new key, a newer version, or the same version again (a republish). */
export type StoreOutcome = 'created' | 'replaced' | 'refreshed';

/**
 * The records a node holds for others, sans-I/O (`nowMs` is the wall clock, given). A record is
 * checked (key, expiry, lifetime, signature) before it is kept; under one key only the highest seq
 * stays. Bounded in total and per owner; expired records go on `sweep` and are never returned; a
 * full store keeps the keys nearest to this node.
 */
export class RecordStore {
  readonly #crypto: CryptoProvider;
  readonly #limits: StoreLimits;
  readonly #byKey = new Map<string, StoredEntry>();
  readonly #perOwner = new Map<string, number>();
  readonly #self: Uint8Array | undefined;

  /** `self`: this node's id; when given, a full store makes room for keys nearer to it (see put). */
  constructor(crypto: CryptoProvider, limits: StoreLimits, self?: Uint8Array) {
    this.#crypto = crypto;
    this.#limits = limits;
    this.#self = self;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** Checks and keeps `record` under `key`; says why not otherwise. */
  put(key: Uint8Array, record: SignedRecord, nowMs: number): Result<StoreOutcome, StoreError> {
    const checked = checkRecord(this.#crypto, record, { key, nowMs, limits: this.#limits });
    if (!checked.ok) return checked;
    const id = toHex(key);
    const stored = this.#live(id, nowMs);
    if (stored !== undefined) {
      const order = compareVersions(record, stored);
      if (order === 'stale') return err({ code: 'RECORD_STALE', storedSeq: stored.seq });
      if (order === 'conflict') return err({ code: 'RECORD_SEQ_CONFLICT', seq: stored.seq });
      if (order === 'same' && record.expiresAtMs <= stored.expiresAtMs) {
        (this.#byKey.get(id) as StoredEntry).storedAtMs = nowMs;
        return ok('refreshed');
      }
      this.#byKey.set(id, { key, record, storedAtMs: nowMs });
      return ok(order === 'same' ? 'refreshed' : 'replaced');
    }
    const owner = toHex(record.owner);
    const owned = this.#perOwner.get(owner) ?? 0;
    if (owned >= this.#limits.storedRecordsPerOwnerMax) return err({ code: 'STORE_FULL' });
    if (this.#byKey.size >= this.#limits.storedRecordsMax) {
      this.sweep(nowMs);
      if (this.#byKey.size >= this.#limits.storedRecordsMax && !this.#makeRoomFor(key)) {
        return err({ code: 'STORE_FULL' });
      }
    }
    this.#byKey.set(id, { key, record, storedAtMs: nowMs });
    this.#perOwner.set(owner, owned + 1);
    return ok('created');
  }

  /** The unexpired record under `key`, if this node holds one. */
  get(key: Uint8Array, nowMs: number): SignedRecord | undefined {
    return this.#live(toHex(key), nowMs);
  }

  /** Drops expired records; returns how many. */
  sweep(nowMs: number): number {
    let dropped = 0;
    for (const id of [...this.#byKey.keys()]) if (this.#live(id, nowMs) === undefined) dropped++;
    return dropped;
  }

  /** Every unexpired record with its key and when it was last stored here (mutable: republishing sets it). */
  entries(nowMs: number): StoredEntry[] {
    this.sweep(nowMs);
    return [...this.#byKey.values()];
  }

  /**
   * A full store gives way only to keys closer to this node than the farthest it holds (that one
   * goes): a node is responsible for keys near its id, and keys cost nothing to make, so a flood of
   * far keys cannot push out the records this node is among the k closest to.
   */
  #makeRoomFor(key: Uint8Array): boolean {
    if (this.#self === undefined) return false;
    let farthest: [string, StoredEntry] | undefined;
    for (const item of this.#byKey) {
      if (farthest === undefined || compareDistance(this.#self, item[1].key, farthest[1].key) > 0)
        farthest = item;
    }
    if (farthest === undefined || compareDistance(this.#self, key, farthest[1].key) >= 0) return false;
    this.#drop(farthest[0], farthest[1]);
    return true;
  }

  /** The record under `id` unless it has expired, in which case it is dropped. */
  #live(id: string, nowMs: number): SignedRecord | undefined {
    const entry = this.#byKey.get(id);
    if (entry === undefined) return undefined;
    if (entry.record.expiresAtMs > nowMs) return entry.record;
    this.#drop(id, entry);
    return undefined;
  }

  #drop(id: string, entry: StoredEntry): void {
    this.#byKey.delete(id);
    const owner = toHex(entry.record.owner);
    const owned = (this.#perOwner.get(owner) ?? 1) - 1;
    if (owned === 0) this.#perOwner.delete(owner);
    else this.#perOwner.set(owner, owned);
  }
}

/** The key `record` belongs under: BLAKE2b-256 of its owner and salt (see recordKey). */
export function keyOf(crypto: CryptoProvider, record: SignedRecord): Uint8Array {
  return recordKey(crypto, record.owner, record.salt);
}
