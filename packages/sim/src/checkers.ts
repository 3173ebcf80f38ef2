import { UsageError } from '@postern/core';

/**
 * A property checked from outside the machines, periodically during a run and at its end. `check`
 * returns undefined while the property holds, or one sentence saying how it is broken.
 */
export interface Invariant<C> {
  readonly name: string;
  check(ctx: C): string | undefined;
}

/**
 * A property that must become true after the faults stop and the network heals, within the
 * scenario's bound: `check` returns undefined once it holds, or what is still missing.
 */
export interface Liveness<C> {
  readonly name: string;
  check(ctx: C): string | undefined;
}

export type MessageId = number | string;

export interface TotalQueueResult {
  /** Enqueues the system acknowledged. */
  readonly acknowledged: number;
  /** Enqueues whose outcome is unknown (e.g. the client crashed before the acknowledgement). */
  readonly indeterminate: number;
  /** Acknowledged and delivered. */
  readonly ok: number;
  /** Acknowledged, never delivered. */
  readonly lost: number;
  /** Delivered more than once (ids; `extraDeliveries` counts the copies beyond the first). */
  readonly duplicated: number;
  readonly extraDeliveries: number;
  /** Delivered, never enqueued. */
  readonly unexpected: number;
  /** Indeterminate, yet delivered. */
  readonly recovered: number;
  /** Acknowledged, not delivered, and reported to the client as undeliverable (expired): honest, not lost. */
  readonly reported: number;
  /** Up to 5 ids of each kind of failure, for the report. */
  readonly examples: {
    readonly lost: MessageId[];
    readonly duplicated: MessageId[];
    readonly unexpected: MessageId[];
  };
}

const NONE = 0;
const INFO = 1;
const OK = 2;
const EXAMPLES = 5;

/**
 * Jepsen's total-queue checker for messages: the workload records every enqueue (acknowledged, or
 * indeterminate) and every delivery; the checker reports what was lost, duplicated, unexpected and
 * recovered. Memory: one map entry per message id the run uses.
 */
export class TotalQueue {
  // Per id: enqueue status in the low 2 bits, deliveries above.
  readonly #state = new Map<MessageId, number>();
  #pending = 0;
  readonly #reported = new Set<MessageId>();
  #duplicated = 0;
  #unexpected = 0;

  /** Records an enqueue: 'ok' (acknowledged) or 'info' (indeterminate). 'ok' after 'info' upgrades it. */
  enqueue(id: MessageId, outcome: 'ok' | 'info' = 'ok'): void {
    const state = this.#state.get(id) ?? 0;
    const status = state & 3;
    const deliveries = state >> 2;
    if (status === OK || (status === INFO && outcome === 'info')) {
      throw new UsageError('SIM_DUPLICATE_ENQUEUE', `message ${id} was already enqueued`);
    }
    if (deliveries > 0 && status === NONE) this.#unexpected--; // delivered first, recorded late
    if (outcome === 'ok' && deliveries === 0) this.#pending++;
    this.#state.set(id, (deliveries << 2) | (outcome === 'ok' ? OK : INFO));
  }

  deliver(id: MessageId): void {
    const state = this.#state.get(id) ?? 0;
    const status = state & 3;
    const deliveries = (state >> 2) + 1;
    if (deliveries === 1 && status === OK) this.#pending--;
    if (deliveries === 1 && status === NONE) this.#unexpected++;
    if (deliveries === 2) this.#duplicated++;
    this.#state.set(id, (deliveries << 2) | status);
  }

  /**
   * The system told the client it gave this message up (it expired undelivered). Such a message is
   * counted as reported, not lost, unless it is delivered after all.
   */
  reportUndeliverable(id: MessageId): void {
    this.#reported.add(id);
  }

  /** Acknowledged messages not delivered yet (lost, if the run ended now). */
  get pending(): number {
    return this.#pending;
  }

  /** Acknowledged messages neither delivered nor reported undeliverable. */
  get unaccounted(): number {
    let reportedPending = 0;
    for (const id of this.#reported) if (this.#state.get(id) === OK) reportedPending++;
    return this.#pending - reportedPending;
  }

  /** Ids delivered more than once so far. */
  get duplicatedSoFar(): number {
    return this.#duplicated;
  }

  /** Ids delivered without an enqueue so far. */
  get unexpectedSoFar(): number {
    return this.#unexpected;
  }

  result(): TotalQueueResult {
    const r = { acknowledged: 0, indeterminate: 0, ok: 0, lost: 0, duplicated: 0, extraDeliveries: 0 };
    const more = { unexpected: 0, recovered: 0, reported: 0 };
    const examples = {
      lost: [] as MessageId[],
      duplicated: [] as MessageId[],
      unexpected: [] as MessageId[],
    };
    for (const [id, state] of this.#state) {
      const status = state & 3;
      const deliveries = state >> 2;
      if (status === OK) {
        r.acknowledged++;
        if (deliveries > 0) r.ok++;
        else if (this.#reported.has(id)) more.reported++;
        else if (r.lost++ < EXAMPLES) examples.lost.push(id);
      } else if (status === INFO) {
        r.indeterminate++;
        if (deliveries > 0) more.recovered++;
      } else if (more.unexpected++ < EXAMPLES) {
        examples.unexpected.push(id);
      }
      if (deliveries > 1) {
        r.extraDeliveries += deliveries - 1;
        if (r.duplicated++ < EXAMPLES) examples.duplicated.push(id);
      }
    }
    return { ...r, ...more, examples };
  }
}

/** One line: "lost 0, duplicated 0, unexpected 0, recovered 0 (of 120 acknowledged)". */
export function describeQueue(r: TotalQueueResult): string {
  return (
    `lost ${r.lost}, duplicated ${r.duplicated}, unexpected ${r.unexpected}, recovered ${r.recovered}, ` +
    `reported undeliverable ${r.reported} ` +
    `(of ${r.acknowledged} acknowledged, ${r.indeterminate} indeterminate)`
  );
}
