import type { Machine, Millis, NodeId, Rng } from '@postern/core';

/**
 * The node contract. The simulator runs the production machine shape (`Machine<E>`: handleReceive,
 * handleTimeout, pollOutput) unchanged; a `NodeProgram` adapts it:
 *
 * - `create` builds the machine at first start and at every restart. Its only inputs are the
 *   node's identity, a fresh random stream, its clock and its **store**: what the machine persisted
 *   before it crashed. Everything else it held is lost.
 * - The machine persists by emitting events; `persist` recognises them and returns the write. The
 *   simulator applies the write (a copy of the bytes) to the node's store at the instant of the
 *   event, so a write is durable as soon as it is emitted — a crash happens between inputs, never
 *   inside a drain. A machine that never emits one restarts empty.
 */
export interface NodeProgram<E, M extends Machine<E>> {
  create(node: NodeContext): M;
  persist?(event: E): StoreWrite | undefined;
  /** The node's id, drawn from its stream (default: 32 random bytes). Fixed for the whole run. */
  identity?(rng: Rng, index: number): NodeId;
}

export interface NodeContext {
  readonly index: number;
  readonly id: NodeId;
  /** 0 at first start, then one more at every restart. */
  readonly incarnation: number;
  /** This incarnation's randomness (forked from the seed by node and incarnation). */
  readonly rng: Rng;
  /** The node's clock. */
  readonly now: Millis;
  /** What the node persisted, by key, in the order first written. Empty at first start. */
  readonly store: ReadonlyMap<string, Uint8Array>;
  /** Every node's id, by index: what a program needs to hand its machine a bootstrap list. */
  readonly directory: Directory;
}

export interface Directory {
  readonly count: number;
  id(index: number): NodeId;
}

/** One durable write: a value under a key, or undefined to delete it. */
export interface StoreWrite {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}
