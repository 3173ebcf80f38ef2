import { UsageError } from '@postern/core';

const INITIAL_CAPACITY = 1024;

/**
 * Pending events ordered by (time, sequence): an array-based binary min-heap over pooled records,
 * in typed arrays, so that scheduling a message allocates nothing. The sequence number is taken when
 * an event is scheduled (or rescheduled), so events at the same instant run in the order they were
 * scheduled, and a run is a pure function of its seed.
 *
 * A record is a slot: four 32-bit integers (kind, node, peer, num) side by side, so one cache line
 * holds them, and ref (one object, e.g. the message bytes). Slots know their heap position, so a
 * node's single wake-up can be moved or cancelled in O(log n) instead of leaving stale wake-ups
 * behind. The number of pending events is bounded by `maxPending`.
 */
export class EventQueue {
  readonly maxPending: number;
  // Per slot: the record, 4 integers at slot × 4, and its object.
  #records: Int32Array;
  readonly #refs: unknown[] = [];
  // Per heap position: the ordering key and the slot.
  #time: Float64Array;
  #seq: Float64Array;
  #slot: Int32Array;
  // Per slot: its heap position, -1 when free.
  #pos: Int32Array;
  #free: Int32Array;
  #freeCount = 0;
  #size = 0;
  #capacity = 0;
  #nextSeq = 0;

  constructor(maxPending: number) {
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) {
      throw new UsageError('SIM_BAD_LIMIT', `maxPendingEvents is a positive integer, got ${maxPending}`);
    }
    this.maxPending = maxPending;
    const capacity = Math.min(INITIAL_CAPACITY, maxPending);
    this.#records = new Int32Array(4 * capacity);
    this.#time = new Float64Array(capacity);
    this.#seq = new Float64Array(capacity);
    this.#slot = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity);
    this.#free = new Int32Array(capacity);
    this.#addFreeSlots(0, capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** The time of the earliest event; Infinity when the queue is empty. */
  peekTime(): number {
    return this.#size === 0 ? Infinity : (this.#time[0] as number);
  }

  /** Schedules an event (kind, node, peer and num are 32-bit integers); returns its slot. Throws SIM_QUEUE_FULL at `maxPending`. */
  push(time: number, kind: number, node: number, peer: number, num: number, ref: unknown): number {
    if (this.#freeCount === 0) this.#grow();
    const slot = this.#free[--this.#freeCount] as number;
    const records = this.#records;
    const at = slot << 2;
    records[at] = kind;
    records[at + 1] = node;
    records[at + 2] = peer;
    records[at + 3] = num;
    this.#refs[slot] = ref;
    this.#siftUp(this.#size++, time, this.#nextSeq++, slot);
    return slot;
  }

  /**
   * Removes the earliest event and returns its slot. The slot is free again: read its fields before
   * the next push, and take its object with `takeRef` so the queue does not keep it alive.
   */
  pop(): number {
    const slot = this.#slot[0] as number;
    this.#release(slot);
    const last = --this.#size;
    if (last > 0) {
      this.#siftDown(0, this.#time[last] as number, this.#seq[last] as number, this.#slot[last] as number);
    }
    return slot;
  }

  kindOf(slot: number): number {
    return this.#records[slot << 2] as number;
  }

  nodeOf(slot: number): number {
    return this.#records[(slot << 2) + 1] as number;
  }

  peerOf(slot: number): number {
    return this.#records[(slot << 2) + 2] as number;
  }

  numOf(slot: number): number {
    return this.#records[(slot << 2) + 3] as number;
  }

  /** The slot's object, cleared from the queue. */
  takeRef(slot: number): unknown {
    const ref = this.#refs[slot];
    this.#refs[slot] = undefined;
    return ref;
  }

  /** The time a pending event is scheduled for. */
  timeOf(slot: number): number {
    return this.#time[this.#pos[slot] as number] as number;
  }

  /** Moves a pending event to a new time, as if scheduled now (it takes a new sequence number). */
  reschedule(slot: number, time: number): void {
    const p = this.#pos[slot] as number;
    const seq = this.#nextSeq++;
    if (time < (this.#time[p] as number)) this.#siftUp(p, time, seq, slot);
    else this.#siftDown(p, time, seq, slot);
  }

  /** Removes a pending event. */
  cancel(slot: number): void {
    const p = this.#pos[slot] as number;
    this.#release(slot);
    this.#refs[slot] = undefined;
    const last = --this.#size;
    if (p === last) return;
    const time = this.#time[last] as number;
    const seq = this.#seq[last] as number;
    const moved = this.#slot[last] as number;
    const parent = (p - 1) >> 1;
    if (p > 0 && before(time, seq, this.#time[parent] as number, this.#seq[parent] as number)) {
      this.#siftUp(p, time, seq, moved);
    } else {
      this.#siftDown(p, time, seq, moved);
    }
  }

  #release(slot: number): void {
    this.#pos[slot] = -1;
    this.#free[this.#freeCount++] = slot;
  }

  #siftUp(start: number, time: number, seq: number, slot: number): void {
    const times = this.#time;
    const seqs = this.#seq;
    const slots = this.#slot;
    let p = start;
    while (p > 0) {
      const parent = (p - 1) >> 1;
      const parentTime = times[parent] as number;
      if (parentTime < time || (parentTime === time && (seqs[parent] as number) < seq)) break;
      times[p] = parentTime;
      seqs[p] = seqs[parent] as number;
      const parentSlot = slots[parent] as number;
      slots[p] = parentSlot;
      this.#pos[parentSlot] = p;
      p = parent;
    }
    this.#place(p, time, seq, slot);
  }

  #siftDown(start: number, time: number, seq: number, slot: number): void {
    const times = this.#time;
    const seqs = this.#seq;
    const slots = this.#slot;
    const size = this.#size;
    const half = size >> 1;
    let p = start;
    while (p < half) {
      let child = 2 * p + 1;
      let childTime = times[child] as number;
      let childSeq = seqs[child] as number;
      const right = child + 1;
      if (right < size) {
        const rightTime = times[right] as number;
        if (rightTime < childTime || (rightTime === childTime && (seqs[right] as number) < childSeq)) {
          child = right;
          childTime = rightTime;
          childSeq = seqs[right] as number;
        }
      }
      if (before(time, seq, childTime, childSeq)) break;
      times[p] = childTime;
      seqs[p] = childSeq;
      const childSlot = slots[child] as number;
      slots[p] = childSlot;
      this.#pos[childSlot] = p;
      p = child;
    }
    this.#place(p, time, seq, slot);
  }

  #place(p: number, time: number, seq: number, slot: number): void {
    this.#time[p] = time;
    this.#seq[p] = seq;
    this.#slot[p] = slot;
    this.#pos[slot] = p;
  }

  #grow(): void {
    const old = this.#capacity;
    if (old >= this.maxPending) {
      throw new UsageError(
        'SIM_QUEUE_FULL',
        `the event queue is full (${this.maxPending} pending events): the scenario schedules faster than ` +
          'the simulation runs, or a larger world needs a higher maxPendingEvents',
      );
    }
    const capacity = Math.min(old * 2, this.maxPending);
    this.#records = grown(this.#records, new Int32Array(4 * capacity));
    this.#time = grown(this.#time, new Float64Array(capacity));
    this.#seq = grown(this.#seq, new Float64Array(capacity));
    this.#slot = grown(this.#slot, new Int32Array(capacity));
    this.#pos = grown(this.#pos, new Int32Array(capacity));
    this.#free = grown(this.#free, new Int32Array(capacity));
    this.#addFreeSlots(old, capacity);
  }

  /** Frees slots [from, to), lowest on top of the stack. */
  #addFreeSlots(from: number, to: number): void {
    for (let slot = to - 1; slot >= from; slot--) {
      this.#pos[slot] = -1;
      this.#free[this.#freeCount++] = slot;
    }
    this.#capacity = to;
  }
}

function before(time: number, seq: number, otherTime: number, otherSeq: number): boolean {
  return time < otherTime || (time === otherTime && seq < otherSeq);
}

function grown<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
