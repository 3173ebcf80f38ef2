import type { EnvelopeHeader } from '@postern/envelope';
import type { OutboxRow, OutboxState } from './state.ts';

/** One message a user sent, with what the machine needs to move it on. */
export interface OutboxEntry {
  readonly key: string;
  /** The recipient's messaging id, hex. */
  readonly recipient: string;
  readonly header: EnvelopeHeader;
  /** BLAKE2b-256 of the envelope: what store-acks and receipts must name. */
  readonly digest: Uint8Array;
  row: OutboxRow;
  /** Replicants (messaging ids, hex) whose signed store-ack is in `row.acks`. */
  readonly storedBy: Set<string>;
  /** Tries so far in this incarnation (the retry delay doubles with each). */
  tries: number;
}

const FINISHED: ReadonlySet<OutboxState> = new Set(['delivered', 'expired']);

/** Delivered or expired; a system entry (receipts) is done as soon as a replicant holds it. */
export function isFinished(row: Pick<OutboxRow, 'state' | 'system'>): boolean {
  return FINISHED.has(row.state) || (row.system && row.state === 'stored');
}

/**
 * The sender's messages by key and by recipient. Unfinished entries are bounded by the caller
 * (`outboxMax`); finished ones are kept for the user to see, the oldest dropped beyond a bound.
 */
export class Outbox {
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #byRecipient = new Map<string, Set<string>>();
  /** Finished keys, oldest first. */
  readonly #finished = new Set<string>();

  get size(): number {
    return this.#entries.size;
  }

  get unfinished(): number {
    return this.#entries.size - this.#finished.size;
  }

  get(key: string): OutboxEntry | undefined {
    return this.#entries.get(key);
  }

  entries(): IterableIterator<OutboxEntry> {
    return this.#entries.values();
  }

  /** Unfinished entries to one recipient. */
  pendingFor(recipient: string): OutboxEntry[] {
    const keys = this.#byRecipient.get(recipient);
    return keys === undefined ? [] : [...keys].map((k) => this.#entries.get(k) as OutboxEntry);
  }

  add(entry: OutboxEntry): void {
    this.#entries.set(entry.key, entry);
    if (isFinished(entry.row)) this.#finished.add(entry.key);
    else this.#index(entry);
  }

  /** Records a new state; returns the keys of finished entries dropped to stay within `finishedMax`. */
  update(entry: OutboxEntry, row: OutboxRow, finishedMax: number): string[] {
    entry.row = row;
    if (!isFinished(row)) return [];
    this.#byRecipient.get(entry.recipient)?.delete(entry.key);
    if (this.#byRecipient.get(entry.recipient)?.size === 0) this.#byRecipient.delete(entry.recipient);
    this.#finished.add(entry.key);
    const dropped: string[] = [];
    for (const key of this.#finished) {
      if (this.#finished.size <= finishedMax) break;
      this.#finished.delete(key);
      this.#entries.delete(key);
      dropped.push(key);
    }
    return dropped;
  }

  #index(entry: OutboxEntry): void {
    let keys = this.#byRecipient.get(entry.recipient);
    if (keys === undefined) {
      keys = new Set();
      this.#byRecipient.set(entry.recipient, keys);
    }
    keys.add(entry.key);
  }
}
