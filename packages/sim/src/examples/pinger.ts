import type { Machine, Millis, NodeId, Output, Rng } from '@postern/core';
import type { Directory, NodeProgram } from '../node.ts';

/**
 * A load generator for benchmarks and large scenarios: every `periodMs` a node pings a random peer,
 * and every node answers a ping with a pong. No events: it measures the simulator, not a checker.
 * With a long period the nodes are idle but each holds a pending timer.
 *
 * Messages: PING = [1][seq: u32 LE], PONG = [2][seq: u32 LE].
 */
export interface PingerOptions {
  readonly periodMs: number;
  /** How a node finds its peers' ids (the simulator's directory). */
  readonly peers: Directory;
}

const PING = 1;
const PONG = 2;

export class Pinger implements Machine<never> {
  readonly #options: PingerOptions;
  readonly #rng: Rng;
  readonly #self: number;
  // At most one pong per input: a ping answered, or a ping sent on the timer.
  #pending: Output<never> | undefined;
  #nextAt: Millis;
  #timeout: Output<never>; // reused until the next ping moves it
  #seq = 0;
  pongs = 0;

  constructor(options: PingerOptions, self: number, rng: Rng, now: Millis) {
    this.#options = options;
    this.#rng = rng;
    this.#self = self;
    this.#nextAt = (now + rng.float() * options.periodMs) as Millis;
    this.#timeout = { type: 'timeout', at: this.#nextAt };
  }

  handleReceive(from: NodeId, bytes: Uint8Array, _now: Millis): void {
    if (bytes.length !== 5) return;
    if (bytes[0] === PING) {
      const pong = bytes.slice();
      pong[0] = PONG;
      this.#pending = { type: 'transmit', to: from, bytes: pong };
    } else if (bytes[0] === PONG) {
      this.pongs++;
    }
  }

  handleTimeout(now: Millis): void {
    if (now < this.#nextAt) return;
    const peers = this.#options.peers;
    let peer = this.#rng.int(peers.count);
    if (peer === this.#self) peer = (peer + 1) % peers.count;
    const seq = this.#seq++;
    const ping = new Uint8Array([PING, seq & 0xff, (seq >>> 8) & 0xff, (seq >>> 16) & 0xff, seq >>> 24]);
    this.#pending = { type: 'transmit', to: peers.id(peer), bytes: ping };
    this.#nextAt = (now + this.#options.periodMs) as Millis;
    this.#timeout = { type: 'timeout', at: this.#nextAt };
  }

  pollOutput(): Output<never> {
    const pending = this.#pending;
    if (pending === undefined) return this.#timeout;
    this.#pending = undefined;
    return pending;
  }
}

export function pingerProgram(periodMs: number): NodeProgram<never, Pinger> {
  return {
    create: (node) => new Pinger({ periodMs, peers: node.directory }, node.index, node.rng, node.now),
  };
}
