import type { Millis } from '@postern/core';

/**
 * Named deadlines: `set(name, at)` replaces the name's deadline, `due(now)` takes every name whose
 * deadline has come, earliest first. A binary heap with lazy deletion, so a machine with thousands
 * of pending retries finds its next wake-up without scanning them. Bounded by the names in use (the
 * heap is compacted when stale entries outnumber live ones).
 */
export class Timers {
  readonly #at = new Map<string, number>();
  #heap: { at: number; name: string }[] = [];

  get size(): number {
    return this.#at.size;
  }

  set(name: string, at: number): void {
    if (this.#at.get(name) === at) return;
    this.#at.set(name, at);
    this.#push({ at, name });
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#at.size) this.#compact();
  }

  /** Sets the deadline only if the name has none or a later one. */
  setEarlier(name: string, at: number): void {
    const current = this.#at.get(name);
    if (current === undefined || at < current) this.set(name, at);
  }

  has(name: string): boolean {
    return this.#at.has(name);
  }

  clear(name: string): void {
    this.#at.delete(name);
  }

  /** The earliest live deadline. */
  next(): Millis | undefined {
    this.#dropStale();
    return this.#heap[0]?.at as Millis | undefined;
  }

  /** Removes and returns the names due at `now`, earliest first. */
  due(now: number): string[] {
    const out: string[] = [];
    for (;;) {
      this.#dropStale();
      const top = this.#heap[0];
      if (top === undefined || top.at > now) return out;
      this.#pop();
      this.#at.delete(top.name);
      out.push(top.name);
    }
  }

  #dropStale(): void {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || this.#at.get(top.name) === top.at) return;
      this.#pop();
    }
  }

  #compact(): void {
    const live = [...this.#at].map(([name, at]) => ({ at, name }));
    this.#heap = [];
    for (const entry of live) this.#push(entry);
  }

  #push(entry: { at: number; name: string }): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as { at: number }).at <= entry.at) break;
      heap[i] = heap[parent] as { at: number; name: string };
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right] as { at: number }).at < (heap[left] as { at: number }).at
          ? right
          : left;
      if ((heap[child] as { at: number }).at >= last.at) break;
      heap[i] = heap[child] as { at: number; name: string };
      i = child;
    }
    heap[i] = last;
  }
}
