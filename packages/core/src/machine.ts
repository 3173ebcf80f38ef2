import type { Millis, NodeId } from './brand.ts';

/**
 * What a sans-I/O protocol machine emits. After every input (handleReceive, handleTimeout or a
 * command) the owner drains `pollOutput()` until it returns a 'timeout', which ends the drain and
 * says when the machine next wants `handleTimeout` (undefined: no timer).
 */
export type Output<E> =
  | { type: 'transmit'; to: NodeId; bytes: Uint8Array }
  | { type: 'event'; event: E }
  | { type: 'timeout'; at: Millis | undefined };

/** The shape shared by every protocol machine (STYLE.md). Commands are extra, named methods. */
export interface Machine<E> {
  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void;
  /** Idempotent: an early or repeated call is a no-op. */
  handleTimeout(now: Millis): void;
  pollOutput(): Output<E>;
}
