import {
  BoundedFifo,
  type Machine,
  type Millis,
  type NodeId,
  type Output,
  UsageError,
  readU32BE,
  writeU32BE,
} from '@postern/core';
import type { NodeProgram } from '../node.ts';

/**
 * An example protocol that proves the simulator: reliable delivery. A sender keeps each message in
 * a persisted outbox and retransmits it every `retryMs` until the receiver acknowledges it; the
 * receiver acknowledges every copy and delivers an id once (a persisted dedupe window).
 *
 * Messages: DATA = [1][id: u32 BE][payload], ACK = [2][id: u32 BE].
 * Store: `out/<id>` = [to: 32 bytes][payload] while unacknowledged; `seen/<id>` = [] once delivered.
 *
 * `bugs` switch parts off, for the checkers to catch: noRetransmit (a lost message stays lost),
 * noDedupe (a retransmitted or duplicated message is delivered again), noPersist (a crash forgets
 * the outbox and the dedupe window).
 */
export type ReliableEvent =
  | { type: 'delivered'; id: number; from: NodeId }
  | { type: 'acked'; id: number }
  | { type: 'persist'; key: string; value: Uint8Array | undefined }
  | { type: 'garbage'; from: NodeId };

export interface ReliableBugs {
  readonly noRetransmit?: boolean;
  readonly noDedupe?: boolean;
  readonly noPersist?: boolean;
}

export interface ReliableOptions {
  readonly retryMs: number;
  /** Unacknowledged messages per sender; send() refuses more. */
  readonly outboxMax: number;
  /** Ids remembered for dedupe; the oldest is forgotten first (a copy older than that is delivered again). */
  readonly dedupeMax: number;
  readonly bugs: ReliableBugs;
}

export const defaultReliableOptions: ReliableOptions = {
  retryMs: 200,
  outboxMax: 1024,
  dedupeMax: 65_536,
  bugs: {},
};

const DATA = 1;
const ACK = 2;
const HEADER_BYTES = 5;
const ID_BYTES = 32;
const EMPTY = new Uint8Array(0);

interface Pending {
  readonly to: NodeId;
  readonly message: Uint8Array;
  sentAt: number;
}

export class ReliableMachine implements Machine<ReliableEvent> {
  readonly #options: ReliableOptions;
  readonly #outbox = new Map<number, Pending>();
  readonly #seen = new Set<number>();
  readonly #seenOrder: BoundedFifo<number>;
  // Bounded by what one input produces: at most the outbox's retransmissions plus a few events.
  readonly #outputs: Output<ReliableEvent>[] = [];
  #head = 0;
  #timer: Millis | undefined;

  constructor(args: {
    now: Millis;
    store: ReadonlyMap<string, Uint8Array>;
    options?: Partial<ReliableOptions>;
  }) {
    this.#options = { ...defaultReliableOptions, ...args.options };
    this.#seenOrder = new BoundedFifo(this.#options.dedupeMax);
    for (const [key, value] of args.store) this.#restore(key, value);
    if (this.#outbox.size > 0 && !this.#options.bugs.noRetransmit) this.#timer = args.now; // resend at once
  }

  get outboxSize(): number {
    return this.#outbox.size;
  }

  /** Queues a message; false when the outbox is full or the id is in it (nothing was queued). */
  send(id: number, to: NodeId, payload: Uint8Array, now: Millis): boolean {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
      throw new UsageError('RELIABLE_BAD_ID', `a message id is a u32, got ${id}`);
    }
    if (this.#outbox.size >= this.#options.outboxMax || this.#outbox.has(id)) return false;
    const message = new Uint8Array(HEADER_BYTES + payload.length);
    message[0] = DATA;
    writeU32BE(message, 1, id);
    message.set(payload, HEADER_BYTES);
    this.#outbox.set(id, { to, message, sentAt: now });
    const stored = new Uint8Array(ID_BYTES + payload.length);
    stored.set(to);
    stored.set(payload, ID_BYTES);
    this.#persist(`out/${id}`, stored);
    this.#transmit(to, message);
    if (this.#timer === undefined && !this.#options.bugs.noRetransmit) {
      this.#timer = (now + this.#options.retryMs) as Millis;
    }
    return true;
  }

  handleReceive(from: NodeId, bytes: Uint8Array, _now: Millis): void {
    if (bytes.length < HEADER_BYTES || (bytes[0] === ACK && bytes.length !== HEADER_BYTES)) {
      this.#emit({ type: 'garbage', from });
      return;
    }
    const id = readU32BE(bytes, 1);
    if (bytes[0] === DATA) this.#receiveData(from, id);
    else if (bytes[0] === ACK) this.#receiveAck(id);
    else this.#emit({ type: 'garbage', from });
  }

  handleTimeout(now: Millis): void {
    if (this.#timer === undefined || now < this.#timer) return;
    const retryMs = this.#options.retryMs;
    let next = Infinity;
    for (const pending of this.#outbox.values()) {
      if (pending.sentAt + retryMs <= now) {
        pending.sentAt = now;
        this.#transmit(pending.to, pending.message);
      }
      next = Math.min(next, pending.sentAt + retryMs);
    }
    this.#timer = next === Infinity ? undefined : (next as Millis);
  }

  pollOutput(): Output<ReliableEvent> {
    if (this.#head < this.#outputs.length) return this.#outputs[this.#head++] as Output<ReliableEvent>;
    this.#outputs.length = 0;
    this.#head = 0;
    return { type: 'timeout', at: this.#timer };
  }

  #receiveData(from: NodeId, id: number): void {
    if (this.#options.bugs.noDedupe || !this.#seen.has(id)) {
      if (!this.#options.bugs.noDedupe) this.#remember(id);
      this.#emit({ type: 'delivered', id, from });
    }
    const ack = new Uint8Array(HEADER_BYTES);
    ack[0] = ACK;
    writeU32BE(ack, 1, id);
    this.#transmit(from, ack);
  }

  #receiveAck(id: number): void {
    if (!this.#outbox.delete(id)) return;
    this.#persist(`out/${id}`, undefined);
    this.#emit({ type: 'acked', id });
    if (this.#outbox.size === 0) this.#timer = undefined;
  }

  #remember(id: number): void {
    this.#seen.add(id);
    const pushed = this.#seenOrder.push(id);
    if (pushed.accepted && pushed.dropped !== undefined) {
      this.#seen.delete(pushed.dropped);
      this.#persist(`seen/${pushed.dropped}`, undefined);
    }
    this.#persist(`seen/${id}`, EMPTY);
  }

  /** Rebuilds state from one stored entry; entries that do not parse are ignored. */
  #restore(key: string, value: Uint8Array): void {
    const [kind, text] = key.split('/');
    const id = Number(text);
    if (!Number.isInteger(id)) return;
    if (kind === 'seen') {
      this.#seen.add(id);
      this.#seenOrder.push(id);
    } else if (kind === 'out' && value.length >= ID_BYTES) {
      const to = value.slice(0, ID_BYTES) as NodeId;
      const message = new Uint8Array(HEADER_BYTES + value.length - ID_BYTES);
      message[0] = DATA;
      writeU32BE(message, 1, id);
      message.set(value.subarray(ID_BYTES), HEADER_BYTES);
      this.#outbox.set(id, { to, message, sentAt: -Infinity });
    }
  }

  #persist(key: string, value: Uint8Array | undefined): void {
    if (!this.#options.bugs.noPersist) this.#emit({ type: 'persist', key, value });
  }

  #transmit(to: NodeId, bytes: Uint8Array): void {
    this.#outputs.push({ type: 'transmit', to, bytes });
  }

  #emit(event: ReliableEvent): void {
    this.#outputs.push({ type: 'event', event });
  }
}

/** The node program: builds the machine from its store and routes 'persist' events to the store. */
export function reliableProgram(
  options: Partial<ReliableOptions> = {},
): NodeProgram<ReliableEvent, ReliableMachine> {
  return {
    create: (node) => new ReliableMachine({ now: node.now, store: node.store, options }),
    persist: (event) => (event.type === 'persist' ? event : undefined),
  };
}
