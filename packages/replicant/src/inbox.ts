import type { InboxRow, ReceiptRow } from './state.ts';

/**
 * The recipient's side: messages received, the envelope keys seen (kept until their envelopes
 * expire, so a copy arriving later through another replicant is recognised), and receipts waiting
 * to reach senders who were not the ones delivering.
 */
export class Inbox {
  readonly #messages = new Map<string, InboxRow>();
  /** Keys of messages from senders who were not contacts when they arrived. */
  readonly #fromStrangers = new Set<string>();
  #bytes = 0;
  readonly #seen = new Map<string, number>();
  readonly #receipts = new Map<string, ReceiptRow>();
  readonly #receiptsBySender = new Map<string, Set<string>>();

  /** The messages, oldest first. */
  get messages(): ReadonlyMap<string, InboxRow> {
    return this.#messages;
  }

  /** Bytes of content held. */
  get bytes(): number {
    return this.#bytes;
  }

  get fromStrangers(): number {
    return this.#fromStrangers.size;
  }

  add(key: string, row: InboxRow, stranger: boolean): void {
    if (this.#messages.has(key)) return;
    this.#messages.set(key, row);
    this.#bytes += row.content.length;
    if (stranger) this.#fromStrangers.add(key);
  }

  remove(key: string): boolean {
    const row = this.#messages.get(key);
    if (row === undefined) return false;
    this.#messages.delete(key);
    this.#bytes -= row.content.length;
    this.#fromStrangers.delete(key);
    return true;
  }

  get seenCount(): number {
    return this.#seen.size;
  }

  get receiptCount(): number {
    return this.#receipts.size;
  }

  hasSeen(key: string): boolean {
    return this.#seen.has(key);
  }

  markSeen(key: string, until: number): void {
    this.#seen.set(key, until);
  }

  /** Seen keys whose envelopes expired before `nowWall`: they can never be accepted again. */
  expiredSeen(nowWall: number): string[] {
    const out: string[] = [];
    for (const [key, until] of this.#seen) if (until <= nowWall) out.push(key);
    for (const key of out) this.#seen.delete(key);
    return out;
  }

  addReceipt(key: string, row: ReceiptRow, sender: string): void {
    this.#receipts.set(key, row);
    let keys = this.#receiptsBySender.get(sender);
    if (keys === undefined) {
      keys = new Set();
      this.#receiptsBySender.set(sender, keys);
    }
    keys.add(key);
  }

  receiptsFor(sender: string): [string, ReceiptRow][] {
    const keys = this.#receiptsBySender.get(sender) ?? new Set<string>();
    return [...keys].map((k) => [k, this.#receipts.get(k) as ReceiptRow]);
  }

  sendersWithReceipts(): string[] {
    return [...this.#receiptsBySender.keys()];
  }

  removeReceipt(key: string, sender: string): void {
    this.#receipts.delete(key);
    const keys = this.#receiptsBySender.get(sender);
    keys?.delete(key);
    if (keys?.size === 0) this.#receiptsBySender.delete(sender);
  }

  /** The oldest pending receipt (first added), to drop when the bound is reached. */
  oldestReceipt(): [string, ReceiptRow] | undefined {
    const first = this.#receipts.entries().next();
    return first.done ? undefined : first.value;
  }

  /** Receipts whose envelopes expired: their senders have already reported them expired. */
  expiredReceipts(nowWall: number): [string, ReceiptRow][] {
    return [...this.#receipts].filter(([, row]) => row.until <= nowWall);
  }
}
