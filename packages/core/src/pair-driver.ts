import { assert } from './assert.ts';
import type { Millis, NodeId } from './brand.ts';
import { bytesEqual } from './bytes.ts';
import type { Machine } from './machine.ts';

/**
 * Drives two machines against each other in virtual time, for tests of two-party protocols
 * (handshakes, request/response). Messages take `latencyMs`; time jumps straight to the next
 * delivery or timer, so a test of a 30-second timeout takes microseconds. Many machines belong in
 * the simulator (packages/sim), not here.
 */
export interface PairEndpoint<E> {
  readonly id: NodeId;
  readonly machine: Machine<E>;
}

export interface PairDriverOptions {
  readonly startMs?: Millis;
  /** One-way delay of every message (default 10 ms). */
  readonly latencyMs?: number;
  /** Sees every message in flight: return the bytes to deliver (possibly altered) or undefined to drop it. */
  readonly intercept?: (from: NodeId, to: NodeId, bytes: Uint8Array) => Uint8Array | undefined;
}

export interface DriveResult {
  readonly steps: number;
  /** No message in flight and no timer pending. */
  readonly idle: boolean;
}

type Side = 'a' | 'b';
interface InFlight {
  readonly at: number;
  readonly to: Side;
  readonly bytes: Uint8Array;
}

/** Bounds what one drain may emit and what drive() may take: a machine that exceeds them has a bug. */
const MAX_OUTPUTS_PER_DRAIN = 100_000;
const DRIVE_STEPS_MAX = 1_000_000;

export class PairDriver<EA, EB> {
  #now: number;
  readonly #latencyMs: number;
  readonly #intercept: PairDriverOptions['intercept'];
  readonly #a: PairEndpoint<EA>;
  readonly #b: PairEndpoint<EB>;
  readonly #timers: Record<Side, number | undefined> = { a: undefined, b: undefined };
  readonly #inFlight: InFlight[] = []; // ordered by delivery time: latency is constant
  /** Events emitted so far by each side, in order. Tests read and may clear them. */
  readonly eventsA: EA[] = [];
  readonly eventsB: EB[] = [];

  constructor(a: PairEndpoint<EA>, b: PairEndpoint<EB>, options: PairDriverOptions = {}) {
    assert(!bytesEqual(a.id, b.id), 'the two machines of a pair have different ids');
    this.#a = a;
    this.#b = b;
    this.#now = options.startMs ?? 0;
    this.#latencyMs = options.latencyMs ?? 10;
    this.#intercept = options.intercept;
  }

  get now(): Millis {
    return this.#now as Millis;
  }

  get inFlight(): number {
    return this.#inFlight.length;
  }

  /** Collects what both machines emitted since the last input; call after invoking a command. */
  drain(): void {
    this.#drain('a');
    this.#drain('b');
  }

  /** Delivers the next message or fires the next timer; false when there is nothing left to do. */
  step(): boolean {
    this.drain();
    const next = this.#nextAction();
    if (next === undefined) return false;
    this.#now = Math.max(this.#now, next.at);
    if (next.kind === 'message') {
      const message = this.#inFlight.shift() as InFlight;
      const from = message.to === 'a' ? this.#b.id : this.#a.id;
      this.#endpoint(message.to).machine.handleReceive(from, message.bytes, this.now);
      this.#drain(message.to);
    } else {
      this.#timers[next.side] = undefined;
      this.#endpoint(next.side).machine.handleTimeout(this.now);
      this.#drain(next.side);
    }
    return true;
  }

  /** Runs at most `maxSteps` steps. */
  driveBounded(maxSteps: number): DriveResult {
    let steps = 0;
    while (steps < maxSteps && this.step()) steps++;
    return { steps, idle: this.#nextAction() === undefined };
  }

  /** Runs until nothing is in flight and no timer is pending; a pair that never settles is a bug. */
  drive(): DriveResult {
    const result = this.driveBounded(DRIVE_STEPS_MAX);
    assert(
      result.idle,
      `the pair settles within ${DRIVE_STEPS_MAX} steps (use driveUntil for periodic timers)`,
    );
    return result;
  }

  /** Runs every step due up to `untilMs`, then sets the clock to `untilMs`. For machines with periodic timers. */
  driveUntil(untilMs: number, maxSteps = DRIVE_STEPS_MAX): DriveResult {
    let steps = 0;
    for (;;) {
      this.drain();
      const next = this.#nextAction();
      if (next === undefined || next.at > untilMs) break;
      assert(steps < maxSteps, `driveUntil(${untilMs}) finishes within ${maxSteps} steps`);
      this.step();
      steps++;
    }
    this.#now = Math.max(this.#now, untilMs);
    return { steps, idle: this.#nextAction() === undefined };
  }

  #endpoint(side: Side): PairEndpoint<EA> | PairEndpoint<EB> {
    return side === 'a' ? this.#a : this.#b;
  }

  #nextAction(): { kind: 'message'; at: number } | { kind: 'timer'; at: number; side: Side } | undefined {
    const message = this.#inFlight[0];
    let best: { kind: 'message'; at: number } | { kind: 'timer'; at: number; side: Side } | undefined =
      message && { kind: 'message', at: message.at };
    for (const side of ['a', 'b'] as const) {
      const at = this.#timers[side];
      if (at !== undefined && (best === undefined || at < best.at)) best = { kind: 'timer', at, side };
    }
    return best;
  }

  #drain(side: Side): void {
    const self = this.#endpoint(side);
    const other = side === 'a' ? this.#b : this.#a;
    for (let i = 0; i < MAX_OUTPUTS_PER_DRAIN; i++) {
      const output = self.machine.pollOutput();
      switch (output.type) {
        case 'timeout':
          this.#timers[side] = output.at;
          return;
        case 'event':
          if (side === 'a') this.eventsA.push(output.event as EA);
          else this.eventsB.push(output.event as EB);
          break;
        case 'transmit': {
          assert(bytesEqual(output.to, other.id), `machine ${side} transmits only to its peer in a pair`);
          // Copied: a machine may reuse its output buffer, which must not change a message in flight.
          const sent = output.bytes.slice();
          const bytes = this.#intercept ? this.#intercept(self.id, other.id, sent) : sent;
          if (bytes !== undefined) {
            this.#inFlight.push({ at: this.#now + this.#latencyMs, to: side === 'a' ? 'b' : 'a', bytes });
          }
          break;
        }
      }
    }
    assert(false, `machine ${side} ends a drain within ${MAX_OUTPUTS_PER_DRAIN} outputs`);
  }
}
