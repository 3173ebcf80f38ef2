import { UsageError } from './assert.ts';

/**
 * Bounded collections: every queue, map and cache in a Postern machine has a size limit, and what
 * happens at the limit is defined (the oldest entry goes, and the caller is told which).
 */

/** A map of at most `maxEntries`, evicting the least-recently-used entry. Keys compare as Map keys do. */
export class BoundedLru<K, V> {
  readonly maxEntries: number;
  readonly #map = new Map<K, V>();

  constructor(maxEntries: number) {
    checkCapacity(maxEntries);
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** The value, marking the entry as most recently used. */
  get(key: K): V | undefined {
    if (!this.#map.has(key)) return undefined;
    const value = this.#map.get(key) as V;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  /** The value, without changing the order. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Inserts or replaces; returns the entry evicted to make room, if any. */
  set(key: K, value: V): [K, V] | undefined {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size <= this.maxEntries) return undefined;
    const oldest = this.#map.entries().next().value as [K, V];
    this.#map.delete(oldest[0]);
    return oldest;
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  /** Entries from least to most recently used. */
  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }
}

export type FifoPush<T> = { accepted: true; dropped?: T } | { accepted: false };

/**
 * A first-in first-out queue of at most `capacity` items in a ring buffer. At capacity it either
 * drops the oldest item ('drop-oldest', returned to the caller) or refuses the new one ('reject').
 */
export class BoundedFifo<T> {
  readonly capacity: number;
  readonly overflow: 'drop-oldest' | 'reject';
  readonly #items: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number, overflow: 'drop-oldest' | 'reject' = 'drop-oldest') {
    checkCapacity(capacity);
    this.capacity = capacity;
    this.overflow = overflow;
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): FifoPush<T> {
    if (this.#size < this.capacity) {
      this.#items[(this.#head + this.#size) % this.capacity] = item;
      this.#size++;
      return { accepted: true };
    }
    if (this.overflow === 'reject') return { accepted: false };
    const dropped = this.#items[this.#head] as T;
    this.#items[this.#head] = item;
    this.#head = (this.#head + 1) % this.capacity;
    return { accepted: true, dropped };
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return item;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#items[(this.#head + i) % this.capacity] as T;
  }
}

function checkCapacity(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError('COLLECTION_BAD_CAPACITY', `a bounded collection needs a capacity ≥ 1, got ${n}`);
  }
}
